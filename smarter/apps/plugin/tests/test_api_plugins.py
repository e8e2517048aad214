"""REST plugins against a real HTTP server on loopback: methods, parameters, auth, failures, SSRF."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.plugin import selectors
from smarter.apps.plugin.execution import plugin_execute
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.tests.conftest import apply, error_locs, make_secret, manifest

pytestmark = pytest.mark.django_db


def connection(base_url: str, name: str = "test_api", **config: Any) -> dict[str, Any]:
    return manifest("ApiConnection", name, {"connection": {"baseUrl": base_url, "timeout": 1.5, **config}})


def api_plugin(
    endpoint: str, method: str = "GET", parameters: list[dict[str, Any]] | None = None, **api: Any
) -> dict[str, Any]:
    return manifest(
        "ApiPlugin",
        "lookup",
        {
            "selector": {"directive": "always"},
            "connection": api.pop("connection", "test_api"),
            "apiData": {
                "description": "Look things up",
                "endpoint": endpoint,
                "method": method,
                "parameters": parameters or [],
                **api,
            },
        },
    )


def applied(owner: Any, document: dict[str, Any]) -> Plugin:
    response = apply(owner, document)
    assert response.status_code == 200, response.json()
    found = selectors.plugin_get(account=owner.account, name=document["metadata"]["name"])
    assert found is not None
    return found


@pytest.fixture
def api(owner: Any, private_hosts: Any, http_server: Any) -> Any:
    assert apply(owner, connection(http_server.url)).status_code == 200
    return http_server


USER_PARAMETERS = [
    {"name": "username", "type": "string", "required": True},
    {"name": "page", "type": "integer", "default": 1},
    {"name": "active", "type": "boolean"},
]


def test_get_puts_path_parameters_in_the_url_encoded_and_the_rest_in_the_query(owner: Any, api: Any) -> None:
    plugin = applied(
        owner, api_plugin("/users/{username}/", parameters=USER_PARAMETERS, urlParams=[{"key": "v", "value": "2"}])
    )
    result = plugin_execute(plugin=plugin, arguments={"username": "ada/../admin?x=1", "active": True})
    assert result.error is None
    assert api.requests[-1].path == "/users/ada%2F..%2Fadmin%3Fx%3D1/"
    assert result.result == {
        "user": "ada%2F..%2Fadmin%3Fx%3D1",
        "query": {"v": ["2"], "page": ["1"], "active": ["true"]},
        "method": "GET",
    }
    assert result.executed["method"] == "GET"
    assert result.executed["url"] == f"{api.url}/users/ada%2F..%2Fadmin%3Fx%3D1/?v=2&page=1&active=true"


def test_an_endpoint_query_string_is_kept(owner: Any, api: Any) -> None:
    plugin = applied(owner, api_plugin("/users/{username}/?fields=all", parameters=USER_PARAMETERS))
    result = plugin_execute(plugin=plugin, arguments={"username": "ada"})
    assert result.result["query"] == {"fields": ["all"], "page": ["1"]}


def test_post_sends_the_arguments_as_a_json_body_merged_with_the_static_body(owner: Any, api: Any) -> None:
    parameters = [{"name": "title", "type": "string"}, {"name": "tags", "type": "array"}]
    plugin = applied(owner, api_plugin("/echo", "POST", parameters, body={"source": "smarter"}))
    result = plugin_execute(plugin=plugin, arguments={"title": "hi", "tags": ["a", "b"]})
    assert result.error is None
    assert result.result["method"] == "POST"
    assert result.result["json"] == {"source": "smarter", "title": "hi", "tags": ["a", "b"]}
    assert result.result["query"] == {}
    assert result.executed["body"] == {"source": "smarter", "title": "hi", "tags": ["a", "b"]}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_the_manifest_method_is_honoured(owner: Any, api: Any, method: str) -> None:
    plugin = applied(owner, api_plugin("/echo", method, [{"name": "q", "type": "string"}]))
    result = plugin_execute(plugin=plugin, arguments={"q": "x"})
    assert result.result["method"] == method
    if method == "DELETE":
        assert result.result["query"] == {"q": ["x"]}
    else:
        assert result.result["json"] == {"q": "x"}


@pytest.mark.parametrize(
    ("config", "sent_authorization", "sent_key", "echoed_authorization", "echoed_key", "redacted_header"),
    [
        (
            {"authMethod": "token", "apiKey": "api_secret"},
            "Bearer s3cr3t-value",
            None,
            "Bearer ***",
            None,
            "Authorization",
        ),
        (
            {"authMethod": "basic", "apiKey": "api_secret", "username": "ada"},
            "Basic YWRhOnMzY3IzdC12YWx1ZQ==",
            None,
            "Basic ***",
            None,
            "Authorization",
        ),
        (
            {"authMethod": "header", "apiKey": "api_secret", "headerName": "X-Api-Key"},
            None,
            "s3cr3t-value",
            None,
            "***",
            "X-Api-Key",
        ),
        ({"authMethod": "none"}, None, None, None, None, None),
    ],
)
def test_each_auth_method_sends_the_secret_and_the_result_and_executed_request_hide_it(
    owner: Any,
    private_hosts: Any,
    http_server: Any,
    config: dict[str, Any],
    sent_authorization: Any,
    sent_key: Any,
    echoed_authorization: Any,
    echoed_key: Any,
    redacted_header: Any,
) -> None:
    make_secret(owner, "api_secret", "s3cr3t-value")
    assert apply(owner, connection(http_server.url, **config)).status_code == 200
    plugin = applied(owner, api_plugin("/echo"))
    http_server.requests.clear()
    result = plugin_execute(plugin=plugin, arguments={})
    sent = http_server.requests[-1].headers
    assert (sent.get("Authorization"), sent.get("X-Api-Key")) == (sent_authorization, sent_key)
    assert (result.result["authorization"], result.result["xApiKey"]) == (echoed_authorization, echoed_key)
    if redacted_header:
        assert result.executed["headers"][redacted_header] == "***"
    assert "s3cr3t" not in str(result.executed) + str(result.result)


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        ("/status/404", 'the API answered HTTP 404: {"detail": "nope"}'),
        ("/status/500", 'the API answered HTTP 500: {"detail": "nope"}'),
        ("/slow", "the API did not answer within 1.5 s"),
        ("/big", "the response is larger than 1048576 bytes"),
        ("/chunked-big", "the response is larger than 1048576 bytes"),
        ("/notjson", "the API answered with invalid JSON"),
        ("/binary", "the API answered with application/octet-stream, not JSON or text"),
    ],
)
def test_failures_become_clean_error_results(owner: Any, api: Any, endpoint: str, error: str) -> None:
    plugin = applied(owner, api_plugin(endpoint))
    result = plugin_execute(plugin=plugin, arguments={})
    assert result.error == error
    assert result.result is None
    assert result.ms < 5000


def test_a_json_list_is_truncated_to_the_limit_and_text_is_returned(owner: Any, api: Any) -> None:
    listing = applied(owner, api_plugin("/list", limit=3))
    assert plugin_execute(plugin=listing, arguments={}).result == [{"id": 0}, {"id": 1}, {"id": 2}]
    text = applied(owner, api_plugin("/text"))
    assert plugin_execute(plugin=text, arguments={}).result == "plain words"


def test_argument_errors_are_results_and_send_nothing(owner: Any, api: Any) -> None:
    plugin = applied(owner, api_plugin("/users/{username}/", parameters=USER_PARAMETERS))
    api.requests.clear()  # apply's status made its health check
    assert plugin_execute(plugin=plugin, arguments={}).error == "argument 'username' is required"
    assert plugin_execute(plugin=plugin, arguments={"username": "a", "page": "2"}).error == (
        "argument 'page' must be of type integer, got string"
    )
    assert api.requests == []


def test_with_private_hosts_off_the_loopback_connection_is_refused_at_apply(owner: Any, smarter_settings: Any) -> None:
    smarter_settings.allow_private_hosts = False
    for host in ("127.0.0.1", "0x7f000001", "[::1]", "169.254.169.254", "localhost"):
        response = apply(owner, connection(f"http://{host}:8080"))
        assert response.status_code == 400
        assert list(error_locs(response)) == ["spec.connection.baseUrl"]


def test_a_connection_applied_while_allowed_is_refused_at_request_time_once_disallowed(
    owner: Any, api: Any, smarter_settings: Any
) -> None:
    plugin = applied(owner, api_plugin("/echo"))
    api.requests.clear()  # apply's status made its health check
    smarter_settings.allow_private_hosts = False
    result = plugin_execute(plugin=plugin, arguments={})
    assert result.error is not None and result.error.startswith("refused: 127.0.0.1 may not be reached")
    assert api.requests == []


def test_a_redirect_to_loopback_is_refused_for_a_plugin(
    owner: Any, private_hosts: Any, http_server: Any, smarter_settings: Any
) -> None:
    from smarter.lib import outbound

    assert apply(owner, connection(f"http://allowed.example:{http_server.port}")).status_code == 200
    plugin = applied(
        owner, api_plugin("/redirect", urlParams=[{"key": "to", "value": f"http://127.0.0.1:{http_server.port}/echo"}])
    )
    smarter_settings.allow_private_hosts = False
    http_server.requests.clear()
    with outbound.override_host("allowed.example", ["127.0.0.1"], trusted=True):
        result = plugin_execute(plugin=plugin, arguments={})
    assert result.error == "refused: 127.0.0.1 may not be reached: 127.0.0.1 is a loopback address"
    assert [request.path for request in http_server.requests] == ["/redirect"]


def test_an_absolute_endpoint_is_refused(owner: Any, api: Any) -> None:
    response = apply(owner, api_plugin("http://169.254.169.254/latest"))
    assert response.status_code == 400
    assert error_locs(response) == {"spec.apiData.endpoint": "must be a path under the connection's baseUrl"}
    assert Plugin.objects.count() == 0


def test_a_redirect_to_another_origin_does_not_carry_the_credential(
    owner: Any, private_hosts: Any, http_server: Any
) -> None:
    make_secret(owner, "api_secret", "s3cr3t-value")
    config = {"authMethod": "header", "apiKey": "api_secret", "headerName": "X-Api-Key"}
    assert apply(owner, connection(http_server.url, **config)).status_code == 200
    same = applied(owner, api_plugin("/redirect", urlParams=[{"key": "to", "value": "/echo"}]))
    assert plugin_execute(plugin=same, arguments={}).result["xApiKey"] == "***"
    assert http_server.requests[-1].headers["X-Api-Key"] == "s3cr3t-value"
    other = f"http://localhost:{http_server.port}/echo"
    moved = applied(owner, api_plugin("/redirect", urlParams=[{"key": "to", "value": other}]))
    result = plugin_execute(plugin=moved, arguments={})
    assert result.error is None
    assert result.result["xApiKey"] is None
    assert http_server.requests[-1].path == "/echo"


def test_redirect_loops_stop(owner: Any, api: Any) -> None:
    plugin = applied(owner, api_plugin("/loop"))
    api.requests.clear()
    assert plugin_execute(plugin=plugin, arguments={}).error == "the API redirected too many times"
    assert len(api.requests) == 4  # the request and 3 redirects
