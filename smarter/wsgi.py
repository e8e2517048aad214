"""WSGI entry point, for tools that want one; production serves ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")

from smarter.lib.tracing import tracing_start

tracing_start()  # before the handler is built: Django's instrumentation adds its middleware

application = get_wsgi_application()
