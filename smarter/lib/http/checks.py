"""Django's deploy checks of its security middleware, for the async versions MIDDLEWARE lists.

Django finds SecurityMiddleware, XFrameOptionsMiddleware and CsrfViewMiddleware by dotted name,
and checks their settings (HSTS, HTTPS redirect, nosniff, referrer and opener policies, framing,
the CSRF cookie) only when it finds them. MIDDLEWARE lists `smarter.lib.http.middleware`'s
subclasses instead, so its three "not in MIDDLEWARE" warnings are silenced in settings, and this
check gives the warnings of their settings, with Django's own ids and texts, when a subclass is
listed (and leaves them to Django when its own class is). The tests compare its answers with
Django's for the same settings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.checks.security import base, csrf
from django.utils.module_loading import import_string

_SECURITY = "django.middleware.security.SecurityMiddleware"
_XFRAME = "django.middleware.clickjacking.XFrameOptionsMiddleware"
_CSRF = "django.middleware.csrf.CsrfViewMiddleware"


def _missing(django_path: str) -> Warning:
    short = django_path.rsplit(".", 1)[1]
    return Warning(
        f"Neither {django_path} nor a subclass of it is in MIDDLEWARE.",
        hint=f"List smarter.lib.http.middleware.{short} (Django's, run without thread hops).",
        id=_MISSING_IDS[django_path],
    )


# Django's own ids for these (security.W001-W003) are silenced in settings: its checks look for
# the exact dotted names.
_MISSING_IDS = {_SECURITY: "smarter.W011", _XFRAME: "smarter.W012", _CSRF: "smarter.W013"}


def _subclass_listed(django_path: str) -> bool | None:
    """None when Django's own class is listed (its checks run then), else whether a subclass is."""
    if django_path in settings.MIDDLEWARE:
        return None
    wanted = import_string(django_path)
    for path in settings.MIDDLEWARE:
        try:
            candidate = import_string(path)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, wanted):
            return True
    return False


@register(Tags.security, deploy=True)
def django_middleware_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    security = _subclass_listed(_SECURITY)
    if security is False:
        found.append(_missing(_SECURITY))
    elif security:
        found += _security_settings()
    xframe = _subclass_listed(_XFRAME)
    if xframe is False:
        found.append(_missing(_XFRAME))
    elif xframe and settings.X_FRAME_OPTIONS != "DENY":
        found.append(base.W019)
    csrf_listed = _subclass_listed(_CSRF)
    if csrf_listed is False:
        found.append(_missing(_CSRF))
    elif csrf_listed and not settings.CSRF_USE_SESSIONS and settings.CSRF_COOKIE_SECURE is not True:
        found.append(csrf.W016)
    return found


def _security_settings() -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if not settings.SECURE_HSTS_SECONDS:
        found.append(base.W004)
    else:
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS is not True:
            found.append(base.W005)
        if settings.SECURE_HSTS_PRELOAD is not True:
            found.append(base.W021)
    if settings.SECURE_CONTENT_TYPE_NOSNIFF is not True:
        found.append(base.W006)
    if settings.SECURE_SSL_REDIRECT is not True:
        found.append(base.W008)
    policy = settings.SECURE_REFERRER_POLICY
    if policy is None:
        found.append(base.W022)
    else:
        values = {value.strip() for value in policy.split(",")} if isinstance(policy, str) else set(policy)
        if not values <= base.REFERRER_POLICY_VALUES:
            found.append(base.E023)
    opener = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    if opener is not None and opener not in base.CROSS_ORIGIN_OPENER_POLICY_VALUES:
        found.append(base.E024)
    return found
