"""`GET /api/v1/usage/`: the caller's account's usage over a period, grouped one way (API.md)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.account.billing.selectors import GROUP_BY_CHOICES, usage_report
from smarter.lib.http.openapi import ERRORS

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Days a period may name: a day after the last one (9999-12-31 + 1) or a time-zone shift at
# either end overflowed Python's datetime (a 500); no usage exists outside these years anyway.
FIRST_YEAR, LAST_YEAR = 1970, 9998


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise serializers.ValidationError(f"must be a day between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31")


class UsageQuery(serializers.Serializer):
    """`start` and `end` are dates (whole days, both included) or ISO 8601 date-times (`end`
    excluded); both default to the last 30 days."""

    start = serializers.CharField(required=False, max_length=40)
    end = serializers.CharField(required=False, max_length=40)
    group_by = serializers.ChoiceField(choices=GROUP_BY_CHOICES, required=False, default="day")

    @staticmethod
    def _moment(value: str, *, is_end: bool) -> datetime:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            _check_year(day.year)
            moment = datetime.combine(day + timedelta(days=1) if is_end else day, time.min)
            return timezone.make_aware(moment, timezone.get_current_timezone())
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise serializers.ValidationError("must be a date (2026-11-01) or an ISO 8601 date-time") from None
        _check_year(moment.year)
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_current_timezone())

    def validate_start(self, value: str) -> datetime:
        return self._moment(value, is_end=False)

    def validate_end(self, value: str) -> datetime:
        return self._moment(value, is_end=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.now()
        start = attrs.get("start") or end - timedelta(days=DEFAULT_DAYS)
        if start >= end:
            raise serializers.ValidationError({"end": "must be after start"})
        if end - start > timedelta(days=MAX_DAYS):
            raise serializers.ValidationError({"end": f"the period may span at most {MAX_DAYS} days"})
        attrs["start"], attrs["end"] = start, end
        return attrs


class UsageView(APIView):
    """Requests, tokens and cost of the caller's account; another account's usage is unreachable."""

    @extend_schema(
        summary="Usage of your account: requests, tokens and cost, grouped by day, chatbot, model or API key",
        tags=["account"],
        parameters=[UsageQuery],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = UsageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = usage_report(
            account=request.auth.account, start=params["start"], end=params["end"], group_by=params["group_by"]
        )
        return Response(
            {
                "data": {
                    "start": params["start"].isoformat(),
                    "end": params["end"].isoformat(),
                    "group_by": params["group_by"],
                    "rows": [row.as_dict() for row in report.rows],
                    "totals": {k: v for k, v in report.totals.as_dict().items() if k != "key"},
                }
            }
        )
