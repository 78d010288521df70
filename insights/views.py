"""Manager pages of insights at /w/<slug>/insights/: the dashboard (KPI tiles, trends, the
referral funnel, the NPS trend, top advocates, programs and their objectives; a period
selector; ``?export=<table>`` downloads any of its tables as CSV), one program's dashboard,
"Refresh now" (the rollup of today, in the background), and the program costs (list, add,
change, delete). Reads live in insights/queries.py; cost rules in insights/costs.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from advocacy.errors import DomainError
from advocacy.exports import inert, streaming_csv
from advocacy.models import Role
from advocacy.web import ManagerView
from programs.models import Program

from . import charts, queries
from .costs import create_cost, delete_cost, update_cost
from .forms import CostFilterForm, CostForm
from .models import ProgramCost
from .periods import GRANULARITIES, PERIODS, Period, granularity_from_query, period_from_query

PAGE_SIZE = 50
TREND_CHARTS = [("active_advocates", "Active advocates"), ("completions", "Asks completed"),
                ("referral_revenue", "Referral revenue"), ("pipeline_influenced", "Pipeline influenced")]
SERIES_COLUMNS = ["active_advocates", "new_advocates", "offers", "accepts", "completions", "declines", "expiries",
                  "referral_clicks", "referral_leads", "referral_conversions", "referral_revenue", "nps", "surveys_sent",
                  "points_earned", "points_redeemed", "points_outstanding", "pipeline_influenced", "revenue_won",
                  "program_costs", "events"]
EXPORTS = ("kpis", "trend", "funnel", "nps", "top_advocates", "programs", "objectives")


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal | int | float):
        return value
    return inert(str(value))


class DashboardView(ManagerView):
    """The workspace's dashboard; with ``program_id``, one program's (the drill-down)."""

    template_name = "manager/insights/dashboard.html"

    def get(self, request, program_id: int | None = None):
        program = self.get_for_workspace(Program, pk=program_id) if program_id is not None else None
        if program is None and request.GET.get("program"):
            return self._to_program(request)
        period = period_from_query(request.GET, self.workspace)
        if period.notice:
            messages.warning(request, period.notice)
        granularity = granularity_from_query(request.GET, period)
        metrics = queries.Metrics(self.workspace, period, program)
        export = request.GET.get("export")
        if export is not None:
            if export not in EXPORTS:
                messages.error(request, f"There is no table “{export[:40]}” to export; choose one of {', '.join(EXPORTS)}.")
                return self.render(period, granularity, metrics, program, status=400)
            return self.export(export, period, granularity, metrics, program)
        return self.render(period, granularity, metrics, program)

    def _to_program(self, request):
        """The program filter of the selector: off to that program's page, keeping the period."""
        raw = request.GET.get("program", "")
        query = request.GET.copy()
        query.pop("program", None)
        program = None
        if raw.isascii() and raw.isdigit() and len(raw) < 12:
            program = Program.objects.filter(workspace=self.workspace, pk=int(raw)).first()
        if program is None:
            messages.error(request, "That program was not found; showing every program.")
            return redirect(f"{self.url('insights_dashboard')}?{query.urlencode()}")
        return redirect(f"{self.url('insights_program', program.pk)}?{query.urlencode()}")

    def context(self, period: Period, granularity: str, metrics: queries.Metrics, program: Program | None) -> dict[str, Any]:
        totals = metrics.totals()
        series = metrics.series(granularity)
        nps_trend = queries.nps_trend(metrics)
        labels = [_label(b["period_start"], granularity) for b in series]
        programs = list(Program.objects.filter(workspace=self.workspace).order_by("name", "id"))
        program_rows = queries.program_table(self.workspace, period, [program] if program else programs)
        funnel = queries.funnel(totals)
        return {
            "period": period, "granularity": granularity, "program": program, "programs": programs,
            "totals": totals, "kpis": queries.kpis(self.workspace, period, program, metrics=metrics),
            "series_columns": [queries.METRIC_LABELS[c] for c in SERIES_COLUMNS],
            "series_rows": [(b["period_start"], [b[c] for c in SERIES_COLUMNS]) for b in series],
            "trend_charts": [{"key": key, "title": title, "svg": charts.line_chart(
                title=f"{title}, {period.label.lower()}", labels=labels, values=[b[key] for b in series])}
                for key, title in TREND_CHARTS],
            "funnel": funnel,
            "funnel_chart": charts.bar_chart(title="Referral funnel", bars=[(s["label"], s["count"]) for s in funnel]),
            "nps_trend": nps_trend,
            "nps_chart": charts.line_chart(title="NPS by month", labels=[f"{m['month']:%b %Y}" for m in nps_trend],
                                           values=[m["nps"] for m in nps_trend], floor=-100, ceiling=100),
            "top_advocates": queries.top_advocates(self.workspace, period) if program is None else None,
            "program_rows": program_rows,
            "computed_at": metrics.computed_at,
            "periods": PERIODS, "granularities": ["day", "week", "month"],
            "granularity_asked": self.request.GET.get("granularity") if self.request.GET.get("granularity") in GRANULARITIES else "",
            "query": self.request.GET.urlencode(),
            "can_write": self.membership.has_role(Role.MANAGER),
        }

    def render(self, period, granularity, metrics, program, status=200):
        template = "manager/insights/program.html" if program is not None else self.template_name
        return TemplateResponse(self.request, template, self.get_context_data(
            **self.context(period, granularity, metrics, program)), status=status)

    def export(self, table: str, period: Period, granularity: str, metrics: queries.Metrics, program: Program | None):
        header, rows = self.table(table, period, granularity, metrics, program)
        name = f"{table}-{period.start:%Y%m%d}-{period.end:%Y%m%d}" + (f"-program{program.pk}" if program else "")
        return streaming_csv(workspace=self.workspace, name=name, header=header, rows=lambda: ([_text(v) for v in r] for r in rows))

    def table(self, table: str, period: Period, granularity: str, metrics: queries.Metrics,
              program: Program | None) -> tuple[list[str], Iterable[list]]:
        """The header and the rows of one of the page's tables (computed now, inside the scope)."""
        builders: dict[str, Callable[[], tuple[list[str], list[list]]]] = {
            "kpis": lambda: _kpi_table(queries.kpis(self.workspace, period, program, metrics=metrics), self.workspace.currency),
            "trend": lambda: (["period_start", *SERIES_COLUMNS],
                              [[b["period_start"].isoformat(), *(b[c] for c in SERIES_COLUMNS)] for b in metrics.series(granularity)]),
            "funnel": lambda: (["step", "count", "percent_of_previous"],
                               [[s["label"], s["count"], s["of_previous"]] for s in queries.funnel(metrics.totals())]),
            "nps": lambda: (["month", "nps", "promoters", "passives", "detractors", "responses"],
                            [[m["month"].isoformat(), m["nps"], m["promoters"], m["passives"], m["detractors"], m["responses"]]
                             for m in queries.nps_trend(metrics)]),
            "top_advocates": lambda: (["advocate_id", "name", "email", "points_earned", "completions", "conversions", "actions"],
                                      [[a["advocate_id"], a["advocate__name"], a["advocate__email"], a["points"], a["completions"],
                                        a["conversions"], a["actions"]] for a in queries.top_advocates(self.workspace, period)]),
            "programs": lambda: _program_table(self._program_rows(period, program)),
            "objectives": lambda: _objective_table(self._program_rows(period, program)),
        }
        return builders[table]()

    def _program_rows(self, period: Period, program: Program | None):
        programs = [program] if program else list(Program.objects.filter(workspace=self.workspace).order_by("name", "id"))
        return queries.program_table(self.workspace, period, programs)


def _label(day, granularity: str) -> str:
    if granularity == "month":
        return f"{day:%b %Y}"
    return f"{day:%-d %b}"


def _kpi_table(k: dict[str, Any], currency: str) -> tuple[list[str], list[list]]:
    rows = [
        ["active_advocates", "Active advocates (at the period's end)", k["active_advocates"], ""],
        ["nps", "NPS", k["nps"], ""],
        ["nps_responses", "NPS answers", k["nps_responses"], ""],
        ["referral_revenue", "Referral revenue", k["referral_revenue"], currency],
        ["other_currency_conversions", "Conversions in other currencies (not in revenue or ROI)",
         k["other_currency_conversions"], ""],
        ["pipeline_influenced", "Pipeline influenced", k["pipeline_influenced"], currency],
        ["revenue_won", "Influenced revenue won", k["revenue_won"], currency],
        ["program_costs", "Program costs", k["program_costs"], currency],
        ["roi", "ROI (ratio)", k["roi"], ""],
        ["roi_percent", "ROI (%)", k["roi_percent"], "%"],
        ["retention", "Advocate retention (%)", k["retention"], "%"],
        ["win_rate_with_reference", "Win rate of deals with a reference (%)", k["win_rate"]["with_reference"]["percent"], "%"],
        ["win_rate_without_reference", "Win rate of other deals (%)", k["win_rate"]["without_reference"]["percent"], "%"],
    ]
    return ["metric", "label", "value", "unit"], rows


def _program_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list]]:
    header = ["program_id", "program", "offers", "completions", "referral_leads", "referral_conversions", "referral_revenue",
              "pipeline_influenced", "revenue_won", "program_costs", "roi", "roi_percent"]
    out = []
    for r in rows:
        p = r["period"]
        out.append([r["program"].pk, r["program"].name, p["offers"], p["completions"], p["referral_leads"],
                    p["referral_conversions"], p["referral_revenue"], p["pipeline_influenced"], p["revenue_won"], r["costs"],
                    r["roi"]["ratio"], r["roi"]["percent"]])
    return header, out


def _objective_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list]]:
    header = ["program_id", "program", "objective", "target", "to_date", "in_period", "percent_to_date"]
    out = [[r["program"].pk, r["program"].name, o["key"], o["target"], o["to_date"], o["in_period"], o["percent"]]
           for r in rows for o in r["objectives"]]
    return header, out


class RefreshView(ManagerView):
    """POST: roll today up again for this workspace, in the background."""

    def post(self, request):
        from advocacy.tasks import enqueue

        from .tasks import rollup_workspace

        enqueue(rollup_workspace, workspace_id=self.workspace.pk, days_ago=0)
        messages.success(request, "Today's figures are being recomputed; reload the page in a minute.")
        back = request.POST.get("next", "")
        if not back.startswith(f"/w/{self.workspace.slug}/insights/") or "\x00" in back or "//" in back:
            back = self.url("insights_dashboard")
        return redirect(back)


# --- Costs -----------------------------------------------------------------------------


class CostListView(ManagerView):
    """Every cost, newest first (filter by program), with each program's total."""

    def get(self, request):
        form = CostFilterForm(request.GET or None, workspace=self.workspace)
        program = None
        if form.is_bound:
            if form.is_valid():
                program = form.cleaned_data["program"]
            else:
                messages.error(request, "That program was not found; showing every program.")
        costs = ProgramCost.objects.filter(workspace=self.workspace).select_related("program", "created_by")
        if program is not None:
            costs = costs.filter(program=program)
        totals = list(ProgramCost.objects.filter(workspace=self.workspace).values("program_id", "program__name")
                      .annotate(total=Sum("amount"), n=Count("id")).order_by("program__name", "program_id"))
        page = Paginator(costs.order_by("-incurred_on", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return TemplateResponse(request, "manager/insights/costs.html", self.get_context_data(
            form=form, page=page, totals=totals, grand_total=sum((t["total"] for t in totals), Decimal("0.00")),
            program=program, query=query.urlencode(), can_write=self.membership.has_role(Role.MANAGER),
        ))


def _apply_errors(form, exc: DomainError) -> None:
    for name, errors in (exc.fields or {}).items():
        form.add_error(name if name in form.fields else None, errors)
    if not exc.fields:
        form.add_error(None, exc.message)


class CostCreateView(ManagerView):
    read_role = Role.MANAGER

    def render(self, form, status=200):
        return TemplateResponse(self.request, "manager/insights/cost_form.html", self.get_context_data(form=form, cost=None),
                                status=status)

    def get(self, request):
        initial = {}
        raw = request.GET.get("program", "")
        if raw.isascii() and raw.isdigit() and len(raw) < 12:
            initial["program"] = Program.objects.filter(workspace=self.workspace, pk=int(raw)).first()
        return self.render(CostForm(initial=initial, workspace=self.workspace))

    def post(self, request):
        form = CostForm(request.POST, workspace=self.workspace)
        if form.is_valid():
            try:
                cost = create_cost(workspace=self.workspace, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"Cost of {cost.amount} {self.workspace.currency} added to {cost.program.name}.")
                return redirect("insights_costs", self.workspace.slug)
        return self.render(form, status=400)


class CostEditView(ManagerView):
    read_role = Role.MANAGER

    def render(self, cost, form, status=200):
        return TemplateResponse(self.request, "manager/insights/cost_form.html", self.get_context_data(form=form, cost=cost),
                                status=status)

    def get(self, request, cost_id: int):
        cost = self.get_for_workspace(ProgramCost, pk=cost_id)
        initial = {f: getattr(cost, f) for f in ("program", "category", "amount", "incurred_on", "note")}
        return self.render(cost, CostForm(initial=initial, workspace=self.workspace))

    def post(self, request, cost_id: int):
        cost = self.get_for_workspace(ProgramCost, pk=cost_id)
        form = CostForm(request.POST, workspace=self.workspace)
        if form.is_valid():
            try:
                cost = update_cost(cost=cost, actor=request.user, data=form.cleaned_data)
            except DomainError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, "Cost saved.")
                return redirect("insights_costs", self.workspace.slug)
        return self.render(cost, form, status=400)


class CostDeleteView(ManagerView):
    """GET: the confirmation. POST: delete."""

    read_role = Role.MANAGER

    def get(self, request, cost_id: int):
        cost = self.get_for_workspace(ProgramCost, pk=cost_id)
        return TemplateResponse(request, "manager/insights/cost_delete.html", self.get_context_data(cost=cost))

    def post(self, request, cost_id: int):
        cost = self.get_for_workspace(ProgramCost, pk=cost_id)
        delete_cost(cost=cost, actor=request.user)
        messages.success(request, f"Cost of {cost.amount} {self.workspace.currency} deleted.")
        return redirect("insights_costs", self.workspace.slug)
