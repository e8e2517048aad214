"""System checks of the API door: the lean route applies what the settings ask (always), and a
production deployment's keys, database and mail (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from smarter.apps.api import lean_policy


@register(Tags.security)
def lean_route_applies_the_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The completions path answered in front of Django must do what Django's middleware and
    security settings would (smarter/apps/api/lean_policy.py)."""
    return [
        Error(
            f"{problem}: the OpenAI completions path answered in front of Django would not do as Django does.",
            hint="Teach smarter/apps/api/lean_policy.py what it does, or serve the path through Django.",
            id="smarter.E010",
        )
        for problem in lean_policy.unapplied()
    ]


@register(Tags.security, deploy=True)
def generated_keys_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Generated keys live in one pod's state directory: other pods could not read the data."""
    conf = settings.SMARTER
    warnings = []
    if conf.secret_key is None:
        warnings.append(
            Warning(
                "SMARTER_SECRET_KEY is not set; a key generated in the state directory is used.",
                hint="Set SMARTER_SECRET_KEY (or SMARTER_SECRET_KEY_FILE) to the same value on every pod.",
                id="smarter.W001",
            )
        )
    if conf.fernet_keys is None:
        warnings.append(
            Warning(
                "SMARTER_FERNET_KEYS is not set; secrets are encrypted with a generated key.",
                hint="Set SMARTER_FERNET_KEYS (comma-separated, newest first) on every pod.",
                id="smarter.W002",
            )
        )
    if conf.database_engine == "sqlite":
        warnings.append(
            Warning(
                "The database is the embedded SQLite file.",
                hint="Set SMARTER_DATABASE_URL to a MySQL (or PostgreSQL) database.",
                id="smarter.W003",
            )
        )
    return warnings


@register(Tags.security, deploy=True)
def mail_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Without a mail server, password resets reach no one (and are never printed outside debug)."""
    if settings.SMARTER.email_host is not None:
        return []
    return [
        Warning(
            "SMARTER_EMAIL_HOST is not set; the platform sends no mail, so password resets cannot reach anyone.",
            hint="Set SMARTER_EMAIL_HOST (and SMARTER_EMAIL_USER, SMARTER_EMAIL_PASSWORD): an SMTP server or SES.",
            id="smarter.W004",
        )
    ]
