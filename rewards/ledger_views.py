"""Manager pages of the ledger: an advocate's history with the manual adjustment form,
the workspace's ledger (filters, CSV export) and the reward settings with the tier ladder."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Advocate, Role
from advocacy.web import ManagerView

from .ledger_forms import AdjustmentForm, LedgerFilterForm, RewardSettingsForm, TierFormSet
from .models import EntryKind, HeldReward, LedgerEntry
from .reward_settings import reward_settings, update_reward_settings
from .services import NotEnoughPoints, adjust_points, tier_ladder, tier_progress

PAGE_SIZE = 50


class AdvocateLedgerView(ManagerView):
    """One advocate's points history, newest first, with the adjustment form (managers)."""

    def context(self, advocate: Advocate, form: AdjustmentForm | None = None):
        entries = LedgerEntry.objects.filter(advocate=advocate).order_by("-created_at", "-id")
        page = Paginator(entries, PAGE_SIZE).get_page(self.request.GET.get("page"))
        held = HeldReward.objects.filter(advocate=advocate, status=HeldReward.Status.HELD).order_by("release_at", "id")
        can_adjust = self.membership.has_role(Role.MANAGER)
        return self.get_context_data(
            advocate=advocate, page=page, held=held, progress=tier_progress(advocate),
            form=(form or AdjustmentForm()) if can_adjust else None,
        )

    def get(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        return TemplateResponse(request, "manager/rewards/advocate_ledger.html", self.context(advocate))

    def post(self, request, advocate_id: int):
        advocate = self.get_for_workspace(Advocate, pk=advocate_id)
        form = AdjustmentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = adjust_points(
                    advocate=advocate, amount=data["amount"], reason=data["reason"], actor=request.user,
                    idempotency_key=f"form-adjust:{advocate.pk}:{data['idempotency_key']}",
                )
            except NotEnoughPoints as exc:
                form.add_error("amount", exc.message)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                if entry.replayed:
                    messages.info(request, "This adjustment was already recorded; it was not applied twice.")
                else:
                    messages.success(request, f"Points adjusted by {entry.amount:+,}; the balance is now {entry.balance_after:,}.")
                return redirect("rewards_advocate_ledger", self.workspace.slug, advocate.pk)
        advocate.refresh_from_db()
        return TemplateResponse(request, "manager/rewards/advocate_ledger.html", self.context(advocate, form), status=400)


def _ledger_rows(request):
    filters = LedgerFilterForm(request.GET or None)
    entries = filters.apply(LedgerEntry.objects.all()) if filters.is_bound else LedgerEntry.objects.all()
    if filters.is_bound and not filters.is_valid():
        messages.error(request, "Some filters were not understood and were ignored.")
    return filters, entries.order_by("-created_at", "-id")


class LedgerListView(ManagerView):
    """Every entry of the workspace, newest first, filtered by kind and advocate."""

    def get(self, request):
        filters, entries = _ledger_rows(request)
        page = Paginator(entries.select_related("advocate"), PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return TemplateResponse(request, "manager/rewards/ledger.html", self.get_context_data(
            filters=filters, page=page, query=query.urlencode(), kinds=EntryKind.choices,
            selected_advocate=filters.selected_advocate(),
        ))


class LedgerExportView(ManagerView):
    """The filtered ledger as CSV, streamed."""

    HEADER = ["id", "created_at", "advocate_id", "advocate_email", "kind", "amount", "balance_after", "reason", "cause", "actor"]

    def get(self, request):
        _, entries = _ledger_rows(request)
        rows = entries.select_related("advocate").only(
            "pk", "created_at", "advocate_id", "advocate__email", "kind", "amount", "balance_after", "reason", "cause", "actor_label",
        )

        def as_rows():
            for e in rows.iterator(chunk_size=2000):
                yield [
                    e.pk, e.created_at.isoformat(), e.advocate_id, inert(e.advocate.email), e.kind, e.amount,
                    e.balance_after, inert(e.reason), inert(e.cause), inert(e.actor_label),
                ]

        return streaming_csv(workspace=self.workspace, name="ledger", header=self.HEADER, rows=as_rows)


class RewardSettingsView(ManagerView):
    """Expiry, the yearly cap, the referral hold and the tier ladder. Owners change them."""

    read_role = Role.MANAGER
    write_role = Role.OWNER

    def render(self, form, tiers, status=200):
        return TemplateResponse(self.request, "manager/rewards/settings.html", self.get_context_data(form=form, tiers=tiers), status=status)

    def get(self, request):
        initial = [{"name": t.name, "threshold": t.threshold, "perks": t.perks} for t in tier_ladder(self.workspace)]
        return self.render(RewardSettingsForm(instance=reward_settings(self.workspace)), TierFormSet(initial=initial, prefix="tiers"))

    def post(self, request):
        form = RewardSettingsForm(request.POST, instance=reward_settings(self.workspace))
        tiers = TierFormSet(request.POST, prefix="tiers")
        if form.is_valid() and tiers.is_valid():
            try:
                update_reward_settings(
                    workspace=self.workspace, actor=request.user,
                    changes={f: form.cleaned_data[f] for f in RewardSettingsForm.Meta.fields}, tiers=tiers.tiers(),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Reward settings saved.")
                return redirect("rewards_settings", self.workspace.slug)
        return self.render(form, tiers, status=400)
