"""Usage: tokens and cost per day, chatbot and model, as charts and as CSV."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from smarter.apps.account.billing.models import COST_PLACES
from smarter.apps.account.billing.selectors import GROUP_BY_CHOICES, UsageReport, usage_report
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.charts import bar_chart

PERIODS = (7, 30, 90)


def _period(request: HttpRequest) -> tuple[int, datetime, datetime]:
    days = int(request.GET.get("days", "30")) if request.GET.get("days", "30").isdigit() else 30
    days = days if days in PERIODS else 30
    today = timezone.localdate()
    end = timezone.make_aware(datetime.combine(today + timedelta(days=1), datetime.min.time()))
    return days, end - timedelta(days=days), end


def _by_day(report: UsageReport, start: datetime, days: int) -> list[tuple[str, float, float]]:
    """One point per day of the period, zero on days without usage."""
    found = {row.key: row for row in report.rows}
    points = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).date().isoformat()
        row = found.get(day)
        points.append((day, float(row.total_tokens) if row else 0.0, float(row.cost) if row else 0.0))
    return points


@require_GET
@console_page()
def usage(request: HttpRequest) -> HttpResponse:
    account = caller_of(request).account
    days, start, end = _period(request)
    by_day = usage_report(account=account, start=start, end=end, group_by="day")
    by_chatbot = usage_report(account=account, start=start, end=end, group_by="chatbot")
    by_model = usage_report(account=account, start=start, end=end, group_by="model")
    by_channel = usage_report(account=account, start=start, end=end, group_by="channel")
    points = _by_day(by_day, start, days)
    context = {
        "days": days,
        "first_day": start.date(),
        "last_day": (end - timedelta(days=1)).date(),
        "periods": PERIODS,
        "totals": by_day.totals,
        "tokens_chart": bar_chart([(day, tokens) for day, tokens, _ in points], unit="tokens"),
        "cost_chart": bar_chart([(day, cost) for day, _, cost in points], unit="$", decimals=4),
        "by_chatbot": by_chatbot.rows,
        "by_model": by_model.rows,
        "by_channel": by_channel.rows,
        "chatbot_chart": bar_chart(
            [(row.key or "(none)", float(row.total_tokens)) for row in by_chatbot.rows], unit="tokens", horizontal=True
        ),
    }
    return page(request, "dashboard/usage.html", context)


@require_GET
@console_page()
def usage_csv(request: HttpRequest) -> HttpResponse:
    account = caller_of(request).account
    days, start, end = _period(request)
    group_by = request.GET.get("group_by", "day")
    group_by = group_by if group_by in GROUP_BY_CHOICES else "day"
    report = usage_report(account=account, start=start, end=end, group_by=group_by)  # type: ignore[arg-type]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{group_by}-{days}d.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            group_by,
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost_usd",
            "thumbs_up",
            "thumbs_down",
        ]
    )
    for row in report.rows:
        writer.writerow(
            [
                row.key or "",
                row.requests,
                row.prompt_tokens,
                row.completion_tokens,
                row.total_tokens,
                f"{row.cost:.{COST_PLACES}f}",
                row.thumbs_up,
                row.thumbs_down,
            ]
        )
    return response
