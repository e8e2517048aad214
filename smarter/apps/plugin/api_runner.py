"""Calling a REST plugin's endpoint through the SSRF-guarded client, bounded in time and size."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from smarter.apps.plugin.sql_guard import PLACEHOLDER
from smarter.lib.outbound import OutboundRefused, guarded_client, normalise_url
from smarter.lib.redaction import REDACTED, Redactor

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
MAX_TEXT_CHARACTERS = 8000
HEALTH_TIMEOUT = 3.0
BODY_METHODS = {"POST", "PUT", "PATCH"}
MAX_ERROR_CHARACTERS = 200


class ApiRunError(Exception):
    """A short message for the model; never carries the credential."""


@dataclass(frozen=True)
class ApiTarget:
    base_url: str
    auth_method: str
    secret: str
    username: str = ""
    header_name: str = ""
    timeout: float = 10.0

    def redactor(self) -> Redactor:
        """Every form of the credential this target sends, to scrub from whatever comes back."""
        return Redactor.of(self.secret, username=self.username if self.auth_method == "basic" else None)


@dataclass
class PreparedRequest:
    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    json_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    secret_headers: set[str] = field(default_factory=set)

    def full_url(self) -> httpx.URL:
        # merged, not replaced: an endpoint may carry its own query string
        return httpx.URL(self.url).copy_merge_params(tuple(self.params)) if self.params else httpx.URL(self.url)

    def executed(self) -> dict[str, Any]:
        """The request as the tester sees it: the credential replaced by ***."""
        url = str(self.full_url())
        shown: dict[str, Any] = {
            "method": self.method,
            "url": url,
            "headers": {
                name: (REDACTED if name.lower() in self.secret_headers else value)
                for name, value in self.headers.items()
            },
        }
        if self.json_body is not None:
            shown["body"] = self.json_body
        return shown


def join_url(base_url: str, endpoint: str) -> str:
    return base_url.rstrip("/") + "/" + endpoint.lstrip("/")


def base_url_of(target: ApiTarget) -> str:
    """The connection's base URL as the client will read it. Applied ones are stored normalised;
    a row from before that (a host in fullwidth digits, say) is read the same way, then checked
    by the guarded client like any other."""
    try:
        return normalise_url(target.base_url).url
    except OutboundRefused as error:
        raise ApiRunError(f"refused: {error}") from None


def _query_value(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [item for element in value for item in _query_value(element)]
    if isinstance(value, dict):
        return [json.dumps(value, separators=(",", ":"))]
    return [str(value)]


def prepare(target: ApiTarget, api_data: dict[str, Any], values: dict[str, Any]) -> PreparedRequest:
    method = str(api_data.get("method") or "GET").upper()
    endpoint = str(api_data.get("endpoint") or "/")
    in_path = set(PLACEHOLDER.findall(endpoint))
    for name in in_path:
        if values.get(name) is None:
            raise ApiRunError(f"argument {name!r} is needed to build the URL")

    def substitute(match: Any) -> str:
        # Every character that could change the path's structure (/ ? # %) is percent-encoded.
        return quote(str(_query_value(values[match.group(1)])[0]), safe="")

    request = PreparedRequest(method=method, url=join_url(base_url_of(target), PLACEHOLDER.sub(substitute, endpoint)))
    for item in api_data.get("urlParams") or []:
        request.params.append((str(item["key"]), str(item["value"])))
    rest = {name: value for name, value in values.items() if name not in in_path and value is not None}
    static_body = api_data.get("body")
    if method in BODY_METHODS:
        if isinstance(static_body, dict) or static_body is None:
            request.json_body = {**(static_body or {}), **rest}
        else:
            request.json_body = static_body
            rest_items = rest.items()
            request.params.extend((name, item) for name, value in rest_items for item in _query_value(value))
    else:
        request.params.extend((name, item) for name, value in rest.items() for item in _query_value(value))
    for header in api_data.get("headers") or []:
        request.headers[str(header["name"])] = str(header["value"])
    request.headers.setdefault("Accept", "application/json")
    if target.auth_method == "token":
        request.headers["Authorization"] = f"Bearer {target.secret}"
        request.secret_headers.add("authorization")
    elif target.auth_method == "header":
        request.headers[target.header_name or "X-API-Key"] = target.secret
        request.secret_headers.add((target.header_name or "X-API-Key").lower())
    elif target.auth_method == "basic":
        pair = f"{target.username}:{target.secret}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        request.secret_headers.add("authorization")
    return request


MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def send(
    target: ApiTarget, request: PreparedRequest, *, limit: int, max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Any:
    """Send the request and turn the answer into the tool's result, or raise ApiRunError.

    Redirects are followed here, hop by hop (at most MAX_REDIRECTS): each hop goes through the
    guarded client again, and a hop to another origin loses the credential headers, so a
    redirect can never carry the tenant's API key to a host it did not name.
    """
    deadline = time.monotonic() + target.timeout
    timeout = httpx.Timeout(target.timeout, connect=min(target.timeout, HEALTH_TIMEOUT))
    method, body = request.method, request.json_body
    headers = dict(request.headers)
    try:
        url = request.full_url()
        with guarded_client(timeout=timeout, max_redirects=0) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                with client.stream(method, url, json=body, headers=headers) as response:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        next_url = response.url.join(location)
                        if _origin(next_url) != _origin(response.url):
                            headers = {
                                name: value
                                for name, value in headers.items()
                                if name.lower() not in request.secret_headers
                            }
                        if response.status_code in (301, 302, 303) and method != "HEAD":
                            method, body = "GET", None
                        url = next_url
                        continue
                    status, content_type, encoding, raw = _read(response, max_bytes, deadline, target.timeout)
                    break
            else:
                raise ApiRunError("the API redirected too many times")
    except OutboundRefused as error:
        raise ApiRunError(f"refused: {error}") from None
    except httpx.InvalidURL as error:
        # A stored URL from before apply normalised them, which httpx cannot read.
        raise ApiRunError(f"refused: not a valid URL ({error})") from None
    except httpx.TimeoutException:
        raise ApiRunError(f"the API did not answer within {target.timeout:g} s") from None
    except httpx.HTTPError as error:
        raise ApiRunError(f"could not reach the API ({type(error).__name__})") from None
    # Scrubbed before anything is cut or parsed: an echoed credential that straddles a cut
    # would otherwise leave its first characters behind.
    redactor = target.redactor()
    return _interpret(status, content_type, redactor.text(raw.decode(encoding, errors="replace")), limit, redactor)


def _read(response: httpx.Response, max_bytes: int, deadline: float, timeout: float) -> tuple[int, str, str, bytes]:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiRunError(f"the response is larger than {max_bytes} bytes")
    body = bytearray()
    # Read in pieces and stop early: a huge or endless answer costs at most max_bytes.
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ApiRunError(f"the response is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ApiRunError(f"the API did not answer within {timeout:g} s")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return response.status_code, content_type, response.encoding or "utf-8", bytes(body)


def _error_snippet(text: str, redactor: Redactor) -> str:
    """The start of an error body, one line, scrubbed in the form it is shown: a JSON body is
    re-encoded first, so that a credential spelled with escapes (\\u0073...) shows as itself."""
    with contextlib.suppress(ValueError, RecursionError):
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return redactor.text(" ".join(redactor.text(text).split()))[:MAX_ERROR_CHARACTERS]


def _interpret(status: int, content_type: str, text: str, limit: int, redactor: Redactor) -> Any:
    if status >= 400:
        snippet = _error_snippet(text, redactor)
        raise ApiRunError(f"the API answered HTTP {status}" + (f": {snippet}" if snippet else ""))
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            raise ApiRunError("the API answered with invalid JSON") from None
        return redactor.value(data[:limit] if isinstance(data, list) else data)
    if content_type.startswith("text/") or not content_type:
        try:
            # Some APIs send JSON without saying so.
            data = json.loads(text)
        except ValueError:
            return text[:MAX_TEXT_CHARACTERS]
        return redactor.value(data[:limit] if isinstance(data, list) else data)
    raise ApiRunError(f"the API answered with {content_type}, not JSON or text")


def ping(target: ApiTarget) -> int:
    """The HTTP status of a GET of the base URL within a short timeout; raise ApiRunError if none."""
    timeout = min(target.timeout, HEALTH_TIMEOUT)
    try:
        with guarded_client(timeout=timeout) as client, client.stream("GET", base_url_of(target)) as response:
            return response.status_code
    except OutboundRefused as error:
        raise ApiRunError(f"refused: {error}") from None
    except httpx.InvalidURL as error:
        raise ApiRunError(f"refused: not a valid URL ({error})") from None
    except httpx.TimeoutException:
        raise ApiRunError(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as error:
        raise ApiRunError(f"could not reach the API ({type(error).__name__})") from None
