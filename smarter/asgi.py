"""ASGI entry point (uvicorn locally, gunicorn with uvicorn workers in production).

Django serves everything, except the OpenAI-compatible completions path on the platform's own
hosts, which `OpenAIChatRoute` answers in front of it with the same door function
(`smarter/apps/api/openai_route.py` says why). In front of both, `RequestBodyLimit` refuses a
body larger than any endpoint takes before Django spools it (`smarter/lib/http/body_limit.py`).
Outermost, `TrustedProxyHeaders` decides the client's address (`smarter/lib/client_address.py`).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")

from smarter.lib.tracing import tracing_start

# Before the handler is built: Django's instrumentation adds its middleware to the chain.
tracing_start()

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from smarter.apps.api.openai_route import OpenAIChatRoute  # noqa: E402  (needs Django set up)
from smarter.apps.knowledge.embedding import preload_local_model  # noqa: E402
from smarter.apps.knowledge.services.documents import max_request_bytes, too_large  # noqa: E402
from smarter.lib.client_address import TrustedProxyHeaders  # noqa: E402
from smarter.lib.error_reporting import error_reporting_start  # noqa: E402
from smarter.lib.http.body_limit import RequestBodyLimit  # noqa: E402

error_reporting_start()  # Sentry, when SMARTER_SENTRY_DSN is set

application = TrustedProxyHeaders(
    RequestBodyLimit(OpenAIChatRoute(django_application), limit=max_request_bytes, refusal=too_large)
)

if settings.SMARTER.embedding_preload:
    preload_local_model()
