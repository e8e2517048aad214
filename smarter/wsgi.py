"""WSGI entry point, for tools that want one; production serves ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")

from smarter.lib.tracing import tracing_start

tracing_start()  # before the handler is built: Django's instrumentation adds its middleware

application = get_wsgi_application()

from smarter.lib.error_reporting import error_reporting_start  # noqa: E402  (needs Django set up)

error_reporting_start()  # Sentry, when SMARTER_SENTRY_DSN is set
