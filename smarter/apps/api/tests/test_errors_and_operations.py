"""The error envelope on every /api/ error, the probes, the OpenAPI docs and the request id."""

from __future__ import annotations

import json
import logging

import pytest
import yaml
from django.urls import resolve
from rest_framework.test import APIClient

from smarter.apps.account.tests.factories import Persona
from smarter.lib.manifests import broker_for
from smarter.lib.observability import JsonFormatter
from smarter.testing.fixtures import SmarterSettingsOverride

pytestmark = pytest.mark.django_db


def assert_envelope(response: object, status: int, error_class: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == status
    assert body["errorClass"] == error_class
    assert isinstance(body["description"], str) and body["description"]
    assert body["context"]["requestId"] == response["X-Request-ID"]
    return body


def test_an_unknown_api_path_is_404_in_the_envelope(db: None) -> None:
    assert_envelope(APIClient().get("/api/v1/no/such/thing/"), 404, "NotFound")


def test_a_wrong_method_is_405_in_the_envelope(owner: Persona) -> None:
    assert_envelope(owner.client.get("/api/v1/cli/apply/"), 405, "MethodNotAllowed")
    assert_envelope(owner.client.put("/api/v1/cli/whoami/"), 405, "MethodNotAllowed")


def test_an_unexpected_exception_is_500_with_a_request_id_and_no_stack_trace(
    owner: Persona, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broker = broker_for("secret")

    def explode(caller: object) -> list:
        raise ZeroDivisionError("secret internals: password=hunter2")

    monkeypatch.setattr(broker, "list_items", explode)
    with caplog.at_level(logging.ERROR):
        response = owner.client.get("/api/v1/cli/get/secrets/")
    body = assert_envelope(response, 500, "SmarterError")
    assert response["X-Request-ID"] in body["description"]
    text = response.content.decode()
    assert "Traceback" not in text and "ZeroDivisionError" not in text and "hunter2" not in text
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError
    assert logged[0].request_id == response["X-Request-ID"]


def test_a_proxy_request_id_is_kept_and_a_bad_one_replaced(db: None) -> None:
    assert APIClient().get("/healthz", HTTP_X_REQUEST_ID="edge-1234abcd")["X-Request-ID"] == "edge-1234abcd"
    replaced = APIClient().get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32


def test_healthz_says_the_process_is_up(db: None) -> None:
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_backing_service(db: None, smarter_settings: SmarterSettingsOverride) -> None:
    smarter_settings.redis_url = None  # the embedded default
    response = APIClient().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "services": {"database": "ok", "cache": "ok", "broker": "eager"},
    }


def test_readyz_is_503_naming_an_unreachable_broker(db: None, smarter_settings: SmarterSettingsOverride) -> None:
    smarter_settings.redis_url = "redis://127.0.0.1:1/0"
    response = APIClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker"]
    assert body["services"]["broker"].startswith("unreachable: ")
    assert body["services"]["database"] == "ok"


def test_readyz_with_a_real_redis_broker_is_ready(
    db: None, smarter_settings: SmarterSettingsOverride, redis_url: str
) -> None:
    smarter_settings.redis_url = redis_url
    assert APIClient().get("/readyz").json()["services"]["broker"] == "ok"


def test_cli_status_and_version(owner: Persona, smarter_settings: SmarterSettingsOverride) -> None:
    smarter_settings.redis_url = None  # the embedded default
    status = owner.client.post("/api/v1/cli/status/").json()["data"]
    assert status == {"healthy": True, "services": {"database": "ok", "cache": "ok", "broker": "eager"}}
    version = owner.client.post("/api/v1/cli/version/").json()
    assert version["data"] == {"version": "0.1.0", "apiVersion": "smarter.sh/v1"}
    assert version["thing"] == "Version"


def test_openapi_schema_and_swagger_ui_are_served_locally(db: None) -> None:
    schema = APIClient().get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/cli/apply/" in schema.content or b"/api/v1/cli/apply" in schema.content
    page = APIClient().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    asset = APIClient().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


# The async chat doors authenticate in a database thread (another connection: the data must be
# committed, hence transactional_db): the account must still reach the log line.
@pytest.mark.parametrize("path", ["/api/v1/cli/whoami/", "/api/v1/openai/models"])
def test_log_lines_are_json_with_request_id_and_account(
    transactional_db: None, owner: Persona, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.INFO, logger="smarter.access"):
        response = owner.client.get(path)
    record = next(r for r in caplog.records if r.name == "smarter.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == f"GET {path} 200"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["account"] == owner.account.account_number
    assert line["status"] == 200 and line["ms"] > 0
    assert owner.key not in json.dumps(line)


def test_the_openapi_document_generates_without_a_warning_and_validates(tmp_path: object) -> None:
    from django.core.management import call_command

    target = f"{tmp_path}/openapi.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", target)
    with open(target) as document:
        text = document.read()
    for path in (
        "/api/v1/cli/apply/",
        "/api/v1/chatbots/{name}/versions/",
        "/api/v1/plugins/{name}/test/",
        "/api/v1/usage/",
    ):
        assert path in text, path


# Every REST path the apps serve through `/api/v1/`, as the OpenAPI document lists it: each app
# mounts its own `api/` package there, and none may drop out of the document when one moves.
DOCUMENTED = {
    "/api/v1/channels/{name}/messages/": ["get"],
    "/api/v1/chatbots/{name}/chat/": ["post"],
    "/api/v1/chatbots/{name}/config/": ["get", "post"],
    "/api/v1/chatbots/{name}/feedback/": ["post"],
    "/api/v1/chatbots/{name}/versions/": ["get"],
    "/api/v1/chatbots/{name}/versions/{number}/": ["get"],
    "/api/v1/chatbots/{name}/versions/{number}/diff/{other}/": ["get"],
    "/api/v1/chatbots/{name}/versions/{number}/rollback/": ["post"],
    "/api/v1/cli/apply/": ["post"],
    "/api/v1/cli/chat/config/{name}/": ["get", "post"],
    "/api/v1/cli/chat/{name}/": ["post"],
    "/api/v1/cli/delete/{kind}/": ["delete", "post"],
    "/api/v1/cli/deploy/{kind}/": ["post"],
    "/api/v1/cli/describe/{kind}/": ["get", "post"],
    "/api/v1/cli/example_manifest/{kind}/": ["get", "post"],
    "/api/v1/cli/get/{kind}/": ["get", "post"],
    "/api/v1/cli/logs/{kind}/": ["get", "post"],
    "/api/v1/cli/schema/{kind}/": ["get", "post"],
    "/api/v1/cli/status/": ["get", "post"],
    "/api/v1/cli/undeploy/{kind}/": ["post"],
    "/api/v1/cli/version/": ["get", "post"],
    "/api/v1/cli/whoami/": ["get", "post"],
    "/api/v1/journal/": ["get"],
    "/api/v1/evals/{name}/compare/": ["get"],
    "/api/v1/evals/{name}/runs/": ["get", "post"],
    "/api/v1/evals/{name}/runs/{run_id}/": ["get"],
    "/api/v1/evals/{name}/runs/{run_id}/cancel/": ["post"],
    "/api/v1/evals/{name}/runs/{run_id}/results/{result_id}/review/": ["post"],
    "/api/v1/evals/{name}/runs/{run_id}/retry/": ["post"],
    "/api/v1/knowledge/{name}/documents/": ["get", "post"],
    "/api/v1/knowledge/{name}/documents/{document_id}/": ["delete", "get"],
    "/api/v1/knowledge/{name}/search/": ["post"],
    "/api/v1/openai/chat/completions": ["post"],
    "/api/v1/openai/embeddings": ["post"],
    "/api/v1/openai/models": ["get"],
    "/api/v1/openai/models/{name}": ["get"],
    "/api/v1/plugins/{name}/test/": ["post"],
    "/api/v1/usage/": ["get"],
}


def test_the_openapi_document_lists_every_path_each_app_serves(db: None) -> None:
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    assert {path: sorted(operations) for path, operations in schema["paths"].items()} == DOCUMENTED


@pytest.mark.parametrize(
    ("path", "name", "app"),
    [
        ("/api/v1/chatbots/support/chat/", "chatbot-chat", "smarter.apps.chat.api.views"),
        ("/api/v1/chatbots/support/config", "chatbot-config", "smarter.apps.chat.api.views"),
        ("/api/v1/openai/chat/completions/", "openai-chat-completions", "smarter.apps.chat.api.openai"),
        ("/api/v1/openai/models", "openai-models", "smarter.apps.chat.api.openai"),
        ("/api/v1/journal", "api-journal", "smarter.apps.account.api.journal"),
        ("/api/v1/usage/", "api-usage", "smarter.apps.account.api.usage"),
        ("/api/v1/chatbots/support/versions/", "chatbot-versions", "smarter.apps.chatbot.api.versions"),
        ("/api/v1/plugins/catalogue/test/", "plugin-test", "smarter.apps.plugin.api.views"),
        ("/api/v1/knowledge/manual/documents/", "knowledge-documents", "smarter.apps.knowledge.api.views"),
        ("/api/v1/knowledge/manual/search/", "knowledge-search", "smarter.apps.knowledge.api.views"),
    ],
)
def test_each_apps_endpoints_are_its_own_and_mounted_under_the_api(path: str, name: str, app: str) -> None:
    match = resolve(path)
    assert match.url_name == name
    assert match.func.__module__ == app
