"""`GET /api/v1/journal/`: who did what in the account, newest first (admins only)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.account import selectors
from smarter.apps.account.api.permissions import IsAccountAdmin
from smarter.lib.http.openapi import ERRORS

JOURNAL_PAGE_LIMIT = 500


class JournalQuery(serializers.Serializer):
    command = serializers.CharField(required=False, max_length=32)
    kind = serializers.CharField(required=False, max_length=50)
    name = serializers.CharField(required=False, max_length=255)
    username = serializers.CharField(required=False, max_length=150)
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=JOURNAL_PAGE_LIMIT, default=100)


class JournalView(APIView):
    """`GET /api/v1/journal/`: who did what in the account, newest first (admins only)."""

    permission_classes = [IsAccountAdmin]

    @extend_schema(
        summary="The account's journal, newest first (admins only)",
        tags=["account"],
        parameters=[JournalQuery],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = JournalQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        entries = selectors.journal_of(
            request.auth.account,
            command=params.get("command"),
            kind=params.get("kind"),
            name=params.get("name"),
            username=params.get("username"),
            status_code=params.get("status"),
        )[: params["limit"]]
        return Response(
            {
                "data": {
                    "entries": [
                        {
                            "key": entry.key,
                            "createdAt": entry.created_at.isoformat(),
                            "username": entry.user.get_username() if entry.user else None,
                            "apiKey": entry.api_key.name if entry.api_key else None,
                            "command": entry.command,
                            "kind": entry.kind,
                            "name": entry.name,
                            "statusCode": entry.status_code,
                            "durationMs": entry.duration_ms,
                            "requestId": entry.request_id,
                        }
                        for entry in entries
                    ]
                }
            }
        )
