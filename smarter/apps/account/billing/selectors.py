"""Reads of billing, always scoped by the account: usage over a period, grouped one way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from smarter.apps.account.billing.models import Charge, ChargeKind, TurnRating, UsageRollup
from smarter.apps.account.models import Account

GroupBy = Literal["day", "chatbot", "model", "api_key", "channel"]
GROUP_BY_CHOICES: tuple[str, ...] = ("day", "chatbot", "model", "api_key", "channel")


@dataclass(frozen=True)
class UsageRow:
    key: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: Decimal
    # Visitors' ratings of the group's turns (`TurnRating`), grouped like the charges.
    thumbs_up: int = 0
    thumbs_down: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost": float(self.cost),
            "thumbs_up": self.thumbs_up,
            "thumbs_down": self.thumbs_down,
        }


@dataclass(frozen=True)
class UsageReport:
    rows: list[UsageRow]
    totals: UsageRow


def _key(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _report(grouped: Any, ratings: Any) -> UsageReport:
    thumbs: dict[str | None, dict[str, int]] = {}
    for row in ratings:
        thumbs.setdefault(_key(row["group"]), {})[row["rating"]] = int(row["count"])
    rows = [
        UsageRow(
            key=_key(row["group"]),
            requests=int(row["requests"] or 0),
            prompt_tokens=int(row["prompt"] or 0),
            completion_tokens=int(row["completion"] or 0),
            total_tokens=int(row["total"] or 0),
            cost=Decimal(row["money"] or 0),
            thumbs_up=thumbs.get(_key(row["group"]), {}).get("up", 0),
            thumbs_down=thumbs.get(_key(row["group"]), {}).get("down", 0),
        )
        for row in grouped
    ]
    charged = {row.key for row in rows}
    # Ratings of a group with no charges in the period (its charges not written yet) still count.
    rows += [
        UsageRow(key, 0, 0, 0, 0, Decimal(0), counts.get("up", 0), counts.get("down", 0))
        for key, counts in thumbs.items()
        if key not in charged
    ]
    rows.sort(key=lambda row: (row.key is None, row.key or ""))
    totals = UsageRow(
        key=None,
        requests=sum(row.requests for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        total_tokens=sum(row.total_tokens for row in rows),
        cost=sum((row.cost for row in rows), Decimal(0)),
        thumbs_up=sum(row.thumbs_up for row in rows),
        thumbs_down=sum(row.thumbs_down for row in rows),
    )
    return UsageReport(rows=rows, totals=totals)


def charges_of(account: Account) -> QuerySet[Charge]:
    return Charge.objects.filter(account=account)


RATING_GROUPS: dict[str, Any] = {
    "day": TruncDate("created_at"),
    "chatbot": "chatbot_name",
    "model": "model",
    "api_key": "api_key_name",
    "channel": "channel",
}


def _ratings(account: Account, start: datetime, end: datetime, group_by: GroupBy) -> Any:
    """Thumbs up and down of the turns of [start, end), counted per group and rating."""
    group = RATING_GROUPS[group_by]
    return (
        TurnRating.objects.filter(account=account, created_at__gte=start, created_at__lt=end)
        .annotate(group=_field(group) if isinstance(group, str) else group)
        .values("group", "rating")
        .annotate(count=Count("id"))
        .order_by()
    )


def usage_report(*, account: Account, start: datetime, end: datetime, group_by: GroupBy) -> UsageReport:
    """Usage of [start, end) from the charges themselves (exact, including the last hour)."""
    charges = charges_of(account).filter(created_at__gte=start, created_at__lt=end)
    group: Any = {
        "day": TruncDate("created_at"),
        "chatbot": "chatbot_name",
        "model": "model",
        "api_key": "api_key_name",
        "channel": "channel",
    }[group_by]
    grouped = (
        charges.annotate(group=group if not isinstance(group, str) else _field(group))
        .values("group")
        .annotate(
            requests=Count("id", filter=Q(kind=ChargeKind.COMPLETION)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            total=Sum("total_tokens"),
            money=Sum("cost"),
        )
        .order_by()
    )
    return _report(grouped, _ratings(account, start, end, group_by))


def usage_report_from_rollups(*, account: Account, start: datetime, end: datetime, group_by: GroupBy) -> UsageReport:
    """The same report from the daily rollups (whole days: `start` and `end` at midnight UTC)."""
    rollups = UsageRollup.objects.filter(
        account=account, period=UsageRollup.Period.DAY, period_start__gte=start, period_start__lt=end
    )
    group: Any = {
        "day": TruncDate("period_start"),
        "chatbot": _field("chatbot_name"),
        "model": _field("model"),
        "api_key": _field("api_key_name"),
        "channel": _field("channel"),
    }[group_by]
    grouped = (
        rollups.annotate(group=group)
        .values("group")
        .annotate(
            requests=Sum("requests"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            total=Sum("total_tokens"),
            money=Sum("cost"),
        )
        .order_by()
    )
    return _report(grouped, _ratings(account, start, end, group_by))


def _field(name: str) -> Any:
    from django.db.models import F

    return F(name)
