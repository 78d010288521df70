"""Manager pages of the catalog and redemptions: the catalog with its item form, the
redemptions (filtered by status, the approval queue first), each redemption with its
actions (approve; reject and cancel with a reason, through a confirmation; fulfil with a
note) and donations per charity. The rules live in rewards/redemptions.py."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from advocacy.errors import DomainError
from advocacy.web import ManagerView

from . import redemptions as svc
from .models import CatalogItem, Redemption
from .services import MAX_AMOUNT

PAGE_SIZE = 50
Status = Redemption.Status


class CatalogItemForm(forms.ModelForm):
    cost = forms.IntegerField(min_value=1, max_value=MAX_AMOUNT, label="Cost in points")
    value = forms.DecimalField(min_value=0, max_digits=10, decimal_places=2, initial=0, label="Money value",
                               help_text="Counted against the yearly reward value cap.")
    stock = forms.IntegerField(min_value=0, max_value=2_147_483_647, required=False, help_text="Empty: unlimited.")
    per_advocate_limit = forms.IntegerField(min_value=1, max_value=2_147_483_647, required=False, label="Per-advocate limit",
                                            help_text="Empty: no limit.")

    class Meta:
        model = CatalogItem
        fields = svc.CATALOG_FIELDS
        labels = {"needs_approval": "Needs a manager's approval", "active": "Active (advocates can redeem it)"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3}), "fulfilment_instructions": forms.Textarea(attrs={"rows": 3})}


class CatalogListView(ManagerView):
    def get(self, request):
        items = CatalogItem.objects.filter(workspace=self.workspace).order_by("-active", "cost", "name")
        return TemplateResponse(request, "manager/rewards/catalog.html", self.get_context_data(items=items))


class CatalogItemFormView(ManagerView):
    def item(self, item_id):
        return self.get_for_workspace(CatalogItem, pk=item_id) if item_id is not None else None

    def render(self, form, item, status=200):
        return TemplateResponse(self.request, "manager/rewards/catalog_form.html",
                                self.get_context_data(form=form, item=item), status=status)

    def get(self, request, item_id: int | None = None):
        item = self.item(item_id)
        return self.render(CatalogItemForm(instance=item), item)

    def post(self, request, item_id: int | None = None):
        item = self.item(item_id)
        form = CatalogItemForm(request.POST, instance=item)
        if form.is_valid():
            data = {f: form.cleaned_data[f] for f in svc.CATALOG_FIELDS}
            try:
                if item is None:
                    item = svc.create_catalog_item(workspace=self.workspace, actor=request.user, data=data)
                else:
                    if item.pk:  # the ModelForm changed the instance in memory: start from the row
                        item.refresh_from_db()
                    item = svc.update_catalog_item(item=item, actor=request.user, data=data)
            except DomainError as exc:
                for field, errors in (exc.fields or {}).items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, f"“{item.name}” is saved.")
                return redirect("rewards_catalog", self.workspace.slug)
        return self.render(form, item, status=400)


class RedemptionListView(ManagerView):
    """Every redemption, filtered by status; requested ones (the approval queue) by default."""

    FILTERS = [("requested", "Needs approval"), ("approved", "To fulfil"), ("fulfilled", "Fulfilled"),
               ("rejected", "Rejected"), ("cancelled", "Cancelled"), ("all", "All")]

    def get(self, request):
        status = request.GET.get("status") or "requested"
        if status not in dict(self.FILTERS):
            messages.error(request, "That status filter was not understood; showing the approval queue.")
            status = "requested"
        if status == "requested":
            rows = svc.approval_queue(self.workspace)
        else:
            rows = Redemption.objects.filter(workspace=self.workspace).select_related("advocate", "item").order_by("-created_at", "-id")
            if status != "all":
                rows = rows.filter(status=status)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "manager/rewards/redemptions.html", self.get_context_data(
            page=page, status=status, filters=self.FILTERS, query=f"status={status}",
        ))


class RedemptionDetailView(ManagerView):
    def get(self, request, redemption_id: int):
        redemption = self.get_for_workspace(Redemption, pk=redemption_id)
        actions = [svc.ACTION_VERBS[t] for t in (Status.APPROVED, Status.FULFILLED, Status.REJECTED, Status.CANCELLED)
                   if svc.can_move(redemption, t)]
        return TemplateResponse(request, "manager/rewards/redemption.html", self.get_context_data(r=redemption, actions=actions))


class RedemptionActionView(ManagerView):
    """GET: the confirmation page of an action (with its reason or note field). POST: do it."""

    ACTIONS = {"approve": Status.APPROVED, "fulfil": Status.FULFILLED, "reject": Status.REJECTED, "cancel": Status.CANCELLED}

    def setup_action(self, redemption_id, action):
        if action not in self.ACTIONS:
            raise Http404("No such action.")
        return self.get_for_workspace(Redemption, pk=redemption_id)

    def render(self, redemption, action, text="", error="", status=200):
        return TemplateResponse(self.request, "manager/rewards/redemption_action.html", self.get_context_data(
            r=redemption, action=action, text=text, error=error, allowed=svc.can_move(redemption, self.ACTIONS[action]),
        ), status=status)

    def get(self, request, redemption_id: int, action: str):
        return self.render(self.setup_action(redemption_id, action), action)

    def post(self, request, redemption_id: int, action: str):
        redemption = self.setup_action(redemption_id, action)
        text = (request.POST.get("reason") or request.POST.get("note") or "")[:5000]
        try:
            if action == "approve":
                svc.approve(redemption=redemption, actor=request.user)
            elif action == "fulfil":
                svc.fulfil(redemption=redemption, actor=request.user, note=text)
            elif action == "reject":
                svc.reject(redemption=redemption, actor=request.user, reason=text)
            else:
                svc.cancel(redemption=redemption, actor=request.user, reason=text)
        except DomainError as exc:
            redemption.refresh_from_db()
            return self.render(redemption, action, text=text, error=exc.message, status=409 if exc.status == 409 else 400)
        done = {"approve": "approved", "fulfil": "fulfilled", "reject": "rejected; the points were refunded",
                "cancel": "cancelled; the points were refunded"}[action]
        messages.success(request, f"Redemption {redemption.pk} {done}.")
        if request.POST.get("next") == "queue":
            return redirect(reverse("rewards_redemptions", args=[self.workspace.slug]) + "?status=requested")
        return redirect("rewards_redemption", self.workspace.slug, redemption.pk)


class CharityTotalsView(ManagerView):
    def get(self, request):
        return TemplateResponse(request, "manager/rewards/donations.html",
                                self.get_context_data(totals=svc.charity_totals(self.workspace)))
