"""`/metrics` on the served platform: not there without a token, closed without the right one,
and bounded whatever visitors send (random model names, paths, hosts, methods, webhook ids)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from smarter import __version__
from smarter.apps.account.pricing import priced_name
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.providers.offline import OFFLINE_MODEL
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import apply, http
from smarter.lib import metrics
from smarter.testing.openai_stub import OpenAIStub, text_reply

upstream = test_turn_pipeline.upstream  # the platform's provider: the OpenAI stub on loopback

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "a-long-metrics-token-4f1c2b7e9d"


@pytest.fixture
def token(smarter_settings: Any) -> str:
    smarter_settings.metrics_token = SecretStr(TOKEN)
    return TOKEN


def _scrape(client: httpx.Client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


def test_metrics_are_not_served_while_no_token_is_set(asgi_server: Any) -> None:
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer anything"}):
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 404
            assert "smarter_" not in response.text


WRONG_AUTHORIZATIONS = {
    "none": None,
    "empty": "",
    "another token": "Bearer another-token",
    "the token with a byte more": f"Bearer {TOKEN}x",
    "the token but its last byte": f"Bearer {TOKEN[:-1]}",
    "the token in upper case": f"Bearer {TOKEN.upper()}",
    "no scheme": TOKEN,
    "another scheme": f"Token {TOKEN}",
    "basic authentication": "Basic " + base64.b64encode(f"prometheus:{TOKEN}".encode()).decode(),
    "a scheme alone": "Bearer",
}


@pytest.mark.parametrize("authorization", WRONG_AUTHORIZATIONS.values(), ids=list(WRONG_AUTHORIZATIONS))
def test_a_missing_or_wrong_token_is_refused(asgi_server: Any, token: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["errorClass"] == "NotAuthenticated"
    assert "smarter_" not in response.text


def test_the_right_token_scrapes_and_wrong_ones_are_limited(asgi_server: Any, token: str) -> None:
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        scraped = client.get("/metrics", headers={"Authorization": f"bearer  {TOKEN}"})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert f'smarter_build_info{{version="{__version__}"}} 1.0' in scraped.text.splitlines()
        before = _refusals(_scrape(client))
        statuses = [client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code for _ in range(31)]
        assert statuses == [401] * 30 + [429]
        # The right token is never limited, and the refusal was counted.
        assert _refusals(_scrape(client)) == before + 1


def _refusals(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "smarter_rate_limit_refusals_total" and sample.labels == {"limit": "metrics"}:
                return sample.value
    return 0.0


# --- bounded labels -----------------------------------------------------------------------------
# Every label the platform's metrics use, and the values it may take.
ALLOWED = {
    "door": metrics.DOORS,
    "method": metrics.METHODS | {metrics.OTHER},
    "status": metrics.STATUS_CLASSES,
    "provider": metrics.PROVIDERS,
    "channel": metrics.CHANNELS,
    "direction": metrics.DIRECTIONS,
    "plugin_class": metrics.PLUGIN_CLASSES,
    "backend": metrics.RETRIEVAL_BACKENDS,
    "limit": metrics.LIMITS,
    "channel_type": metrics.CHANNEL_TYPES,
}
OUTCOMES = (
    metrics.TURN_OUTCOMES
    | metrics.LLM_OUTCOMES
    | metrics.PLUGIN_OUTCOMES
    | metrics.WEBHOOK_OUTCOMES
    | metrics.REPLY_OUTCOMES
)


def _series(text: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {
        (sample.name, frozenset(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("smarter_")
    }


def _own_provider(client: httpx.Client, upstream: OpenAIStub, model: str) -> None:
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Provider",
            "metadata": {"name": "mine"},
            "spec": {"provider": {"baseUrl": upstream.url, "defaultModel": model}},
        },
    )
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Chatbot",
            "metadata": {"name": "support"},
            "spec": {"config": {"provider": "mine", "defaultModel": model}},
        },
    )


def _hostile_round(client: httpx.Client, owner: Persona, upstream: OpenAIStub, asgi_server: Any) -> list[str]:
    """Requests whose every free part is random; the random strings they carried."""
    sent: list[str] = []
    with http(owner, asgi_server) as console:
        for _ in range(3):  # an account's own endpoint, answering as models of random names
            model = f"model-{secrets.token_hex(6)}"
            sent.append(model)
            _own_provider(console, upstream, model)
            upstream.enqueue(text_reply("Hi."))
            asked = client.post(
                "/api/v1/openai/chat/completions",
                json={"model": "support", "messages": [{"role": "user", "content": "Hi"}]},
                headers={"Authorization": f"Bearer {owner.key}"},
            )
            assert asked.status_code == 200, asked.text
    for _ in range(10):
        word = secrets.token_hex(5)
        sent.append(word)
        key = {"Authorization": f"Bearer {owner.key}"}
        body = {"model": f"gpt-{word}", "messages": [{"role": "user", "content": "Hi"}]}
        assert client.post("/api/v1/openai/chat/completions", json=body, headers=key).status_code == 404
        assert client.get(f"/{word}/{word}?{word}={word}").status_code == 404
        assert client.get(f"/api/v1/{word}/").status_code in (401, 404)
        assert 400 <= client.request(f"X{word.upper()}", "/api/v1/chatbots/").status_code < 500
        assert client.post(f"/webhooks/{word}/", content=b"{}").status_code == 404
        client.get("/", headers={"Host": f"{word}.example"})
        client.get("/", headers={"Host": f"{word}.api.localhost"})
    return sent


def test_hostile_input_cannot_grow_the_number_of_series(
    asgi_server: Any, token: str, owner: Persona, upstream: OpenAIStub
) -> None:
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        _scrape(client)  # a scrape is a request too: counted from the next scrape on
        first = _hostile_round(client, owner, upstream, asgi_server)
        after_first = _scrape(client)
        second = _hostile_round(client, owner, upstream, asgi_server)
        after_second = _scrape(client)
    # New random strings add no series at all: every label takes its values from a fixed set.
    assert _series(after_second) == _series(after_first)
    for name, labels in _series(after_second):
        for label, label_value in labels:
            if label in ALLOWED:
                assert label_value in ALLOWED[label], (name, label, label_value)
            elif label == "outcome":
                assert label_value in OUTCOMES, (name, label_value)
            elif label == "model":  # the price table's names, the offline model's, or `other`
                assert (
                    label_value in (OFFLINE_MODEL, metrics.OTHER)
                    or priced_name(provider="*", model=label_value) == label_value
                ), (name, label_value)
    for random_part in first + second:
        assert random_part not in after_second
    # The account's own models are counted, under `own` and `other`.
    own = {"provider": "own", "model": metrics.OTHER, "channel": "openai", "outcome": "ok"}
    assert ("smarter_turns_total", frozenset(own.items())) in _series(after_second)


def test_prometheus_scrapes_a_pod_by_its_address(asgi_server: Any, token: str) -> None:
    pod = {"Host": "10.1.2.3:8000", "Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        scraped = client.get("/metrics", headers=pod)
        assert scraped.status_code == 200 and "smarter_build_info{" in scraped.text
        # Only /metrics: any other path on that host is still refused, as any host not served here.
        refused = client.get("/healthz/", headers=pod)
        assert (refused.status_code, refused.json()["description"]) == (400, "This host is not served here.")
        assert client.get("/metrics", headers={"Host": "10.1.2.3:8000"}).status_code == 401
