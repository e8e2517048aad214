"""The decorator of the async doors: plain async Django views (not DRF), so a streamed answer
holds no thread while it waits on the model."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from smarter.lib.errors import MethodNotAllowed, SmarterError
from smarter.lib.http.errors import error_response, internal_error

logger = logging.getLogger(__name__)

View = Callable[..., Awaitable[HttpResponseBase]]
Render = Callable[[SmarterError], HttpResponseBase]


def api_door(methods: tuple[str, ...], *, render: Render = error_response) -> Callable[[View], Any]:
    """Method check, and every SmarterError (or bug) rendered as the API's error envelope, or in
    the shape `render` gives it (the OpenAI-compatible door answers errors as OpenAI does)."""

    def decorate(view: View) -> Any:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(f"Use {' or '.join(methods)} here.")
                return await view(request, *args, **kwargs)
            except SmarterError as error:
                return render(error)
            except Exception:
                logger.exception("unhandled error in %s", view.__qualname__)
                return render(internal_error())

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # API keys, not cookies
        return wrapper

    return decorate
