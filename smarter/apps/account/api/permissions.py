"""Permissions of the API: a caller must act in an account; some endpoints need its admins."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from smarter.apps.account.caller import Caller


class IsAccountMember(BasePermission):
    message = "Authenticate with an API key: 'Authorization: Token <key>'."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Caller)


class IsAccountAdmin(IsAccountMember):
    message = "Only an account admin may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and request.auth.is_admin
