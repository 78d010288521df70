"""The advocate's catalog and redemptions at /portal/<slug>/rewards/: what each item costs
and whether they can afford it, a confirmation before redeeming, the refusal in the same
words the API uses, and their redemptions with status and reason."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.web import PortalView

from . import redemptions as svc
from .models import CatalogItem, Redemption

PAGE_SIZE = 20


class PortalCatalogView(PortalView):
    def get(self, request):
        items = CatalogItem.objects.filter(workspace=self.workspace, active=True).order_by("cost", "name")
        rows = [{"item": i, "affordable": self.advocate.points_balance >= i.cost, "in_stock": i.stock is None or i.stock > 0,
                 "missing": max(0, i.cost - self.advocate.points_balance)} for i in items]
        return TemplateResponse(request, "portal/rewards/catalog.html", self.get_context_data(rows=rows))


class PortalRedeemView(PortalView):
    """GET: the confirmation. POST: redeem; a refusal re-renders the page with its message."""

    def item(self, item_id):
        return self.get_for_workspace(CatalogItem, pk=item_id, active=True)

    def render(self, item, error="", status=200):
        return TemplateResponse(self.request, "portal/rewards/redeem.html", self.get_context_data(
            item=item, error=error, remaining=self.advocate.points_balance - item.cost, form_key=uuid.uuid4().hex,
        ), status=status)

    def get(self, request, item_id: int):
        return self.render(self.item(item_id))

    def post(self, request, item_id: int):
        item = self.item(item_id)
        # A double click or a resubmitted form carries the same key: redeem once.
        form_key = f"portal-redeem:{self.advocate.pk}:{(request.POST.get('form_key') or '')[:64]}"
        if request.POST.get("form_key") and not cache.add(form_key, 1, timeout=3600):
            messages.info(request, "This redemption was already submitted.")
            return redirect("portal_redemptions", self.workspace.slug)
        try:
            redemption = svc.redeem(advocate=self.advocate, item=item, actor=request.user)
        except DomainError as exc:
            cache.delete(form_key)  # refused: trying again later is a new attempt
            self.advocate.refresh_from_db(fields=["points_balance"])
            return self.render(item, error=exc.message, status=exc.status)
        if redemption.status == Redemption.Status.APPROVED:
            messages.success(request, f"You redeemed “{item.name}” for {item.cost:,} points. It is approved and on its way.")
        else:
            messages.success(request, f"You redeemed “{item.name}” for {item.cost:,} points. We will let you know once it is approved.")
        return redirect("portal_redemptions", self.workspace.slug)


class PortalRedemptionsView(PortalView):
    def get(self, request):
        rows = Redemption.objects.filter(workspace=self.workspace, advocate=self.advocate).select_related("item").order_by("-created_at", "-id")
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "portal/rewards/redemptions.html", self.get_context_data(page=page))
