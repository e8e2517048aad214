"""`manage.py check --deploy` warns about the security settings exactly as Django would if its own
middleware classes were listed, though MIDDLEWARE lists their async versions; a missing one is
named."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Tags, run_checks

from smarter.lib.http.middleware import STANDS_FOR

PRODUCTION = {
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_CONTENT_TYPE_NOSNIFF": True,
    "SECURE_REFERRER_POLICY": "same-origin",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
    "X_FRAME_OPTIONS": "DENY",
    "CSRF_COOKIE_SECURE": True,
    "CSRF_USE_SESSIONS": False,
    "SESSION_COOKIE_SECURE": True,
}

VARIANTS = {
    "production": {},
    "nothing secure": {
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_CONTENT_TYPE_NOSNIFF": False,
        "SECURE_REFERRER_POLICY": None,
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": None,
        "X_FRAME_OPTIONS": "SAMEORIGIN",
        "CSRF_COOKIE_SECURE": False,
        "SESSION_COOKIE_SECURE": False,
    },
    "hsts without subdomains nor preload": {"SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_HSTS_PRELOAD": False},
    "hsts preload only": {"SECURE_HSTS_INCLUDE_SUBDOMAINS": False},
    "a referrer policy list with a bad value": {"SECURE_REFERRER_POLICY": ["same-origin", "bogus"]},
    "a referrer policy string with a fallback": {"SECURE_REFERRER_POLICY": "no-referrer, strict-origin"},
    "a bad referrer policy": {"SECURE_REFERRER_POLICY": "bogus"},
    "a bad opener policy": {"SECURE_CROSS_ORIGIN_OPENER_POLICY": "bogus"},
    "framing by the same origin": {"X_FRAME_OPTIONS": "SAMEORIGIN"},
    "csrf in the session with a plain cookie": {"CSRF_USE_SESSIONS": True, "CSRF_COOKIE_SECURE": False},
    "plain cookies": {"CSRF_COOKIE_SECURE": False, "SESSION_COOKIE_SECURE": False},
    "a truthy non-boolean nosniff": {"SECURE_CONTENT_TYPE_NOSNIFF": 1},
}


SESSION_APP_ONLY = {"security.W012": "security.W010", "security.W015": "security.W013"}


def _security_ids() -> list[str]:
    """What `check --deploy` reports (a silenced check is left out, as the command does)."""
    messages = run_checks(tags=[Tags.security], include_deployment_checks=True)
    return sorted(message.id for message in messages if not message.is_silenced())


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_the_async_middleware_get_the_same_deploy_warnings_as_djangos_own_classes(settings: Any, variant: str) -> None:
    for name, value in {**PRODUCTION, **VARIANTS[variant]}.items():
        setattr(settings, name, value)
    ours = _security_ids()
    configured = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [STANDS_FOR.get(path, path) for path in configured]
    settings.SILENCED_SYSTEM_CHECKS = []
    # Django's session cookie checks run for the sessions app as well as for its middleware: they
    # warn either way, for the app alone (W010, W013) where they would name both (W012, W015).
    djangos = sorted(SESSION_APP_ONLY.get(i, i) for i in _security_ids())
    assert ours == djangos
    assert len(ours) == len(set(ours))  # no warning given twice


def test_the_production_settings_give_no_security_warning(settings: Any) -> None:
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    assert [i for i in _security_ids() if i.startswith("security.")] == []


@pytest.mark.parametrize(
    ("left_out", "warning"),
    [
        ("smarter.lib.http.middleware.SecurityMiddleware", "smarter.W011"),
        ("smarter.lib.http.middleware.XFrameOptionsMiddleware", "smarter.W012"),
        ("smarter.lib.http.middleware.CsrfViewMiddleware", "smarter.W013"),
    ],
)
def test_a_security_middleware_left_out_of_middleware_is_named(settings: Any, left_out: str, warning: str) -> None:
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if path != left_out]
    messages = [m for m in run_checks(tags=[Tags.security], include_deployment_checks=True) if m.id == warning]
    assert [m.msg for m in messages] == [f"Neither {STANDS_FOR[left_out]} nor a subclass of it is in MIDDLEWARE."]


def test_every_django_middleware_is_listed_in_its_async_version() -> None:
    from django.conf import settings

    assert set(STANDS_FOR) <= set(settings.MIDDLEWARE)
    assert not set(STANDS_FOR.values()) & set(settings.MIDDLEWARE)
