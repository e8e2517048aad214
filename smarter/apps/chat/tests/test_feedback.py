"""Visitors rate answers: the chat body names its `turn`, and `/feedback/` on the REST API, on a
deployed chatbot's host and in the sandbox stores one rating and comment per turn, replaced by the
next, cleared by null, refused at the field that is wrong, and counted in usage. Real HTTP through
uvicorn on loopback, the offline provider answering."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from smarter.apps.account.billing.models import TurnRating
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.chat.models import Chat, Feedback
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.dashboard.tests.helpers import signed_in

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_SECRET = "f" * 32


class Site:
    def __init__(self, server: Any, owner: Persona, teammate: Persona, outsider: Persona) -> None:
        self.server = server
        self.owner, self.teammate, self.outsider = owner, teammate, outsider
        self.host = f"shop.{owner.account.account_number}.api.example.com"

    def api(self, persona: Persona | None = None) -> httpx.Client:
        key = (persona or self.owner).key
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Token {key}"}, timeout=30)

    def visitor(self, host: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Host": host or self.host}, timeout=30)

    def console(self, persona: Persona | None = None, *, csrf: bool = True) -> httpx.Client:
        cookies = {"sessionid": signed_in(persona or self.owner).cookies["sessionid"].value, "csrftoken": CSRF_SECRET}
        headers = {"X-CSRFToken": CSRF_SECRET} if csrf else {}
        return httpx.Client(base_url=self.server.url, cookies=cookies, headers=headers, timeout=30)


@pytest.fixture
def site(asgi_server: Any, smarter_settings: Any) -> Site:
    smarter_settings.root_domain = "example.com"
    smarter_settings.llm_provider = "offline"
    acme = make_account("Acme")
    owner = make_persona(acme, "owner", Role.ADMIN)
    teammate = make_persona(acme, "teammate", Role.MEMBER)
    outsider = make_persona(make_account("Globex"), "outsider", Role.ADMIN)
    apply(owner, chatbot_manifest("shop", deployed=True))
    apply(owner, chatbot_manifest("other", deployed=True))
    apply(outsider, chatbot_manifest("shop", deployed=True))
    return Site(asgi_server, owner, teammate, outsider)


def _api_session(site: Site, turns: int = 1, chatbot: str = "shop") -> str:
    session_key = None
    with site.api() as client:
        for number in range(1, turns + 1):
            body: dict[str, Any] = {"prompt": f"question {number}"}
            if session_key:
                body["session_key"] = session_key
            answer = client.post(f"/api/v1/chatbots/{chatbot}/chat/", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["turn"] == number
            session_key = answer.json()["session_key"]
    assert session_key is not None
    return session_key


def _stored() -> list[tuple[str, int, str, str]]:
    return sorted(
        (row.chat.session_key, row.turn.index, row.rating, row.comment)
        for row in Feedback.objects.select_related("chat", "turn")
    )


# --- the chat body's turn -----------------------------------------------------------------------
def test_every_chat_body_names_its_turn_in_the_session(site: Site) -> None:
    session_key = _api_session(site, turns=2)
    with site.api() as client:
        streamed = client.post(
            "/api/v1/chatbots/shop/chat/", json={"prompt": "third", "session_key": session_key, "stream": True}
        )
    done = [block for block in streamed.text.split("\n\n") if block.startswith("event: done")]
    assert json.loads(done[0].split("data: ", 1)[1])["turn"] == 3
    with site.visitor() as visitor:
        first = visitor.post("/chat/", json={"prompt": "hello"})
        second = visitor.post("/chat/", json={"prompt": "again"})
    assert (first.json()["turn"], second.json()["turn"]) == (1, 2)
    assert first.json()["session_key"] == second.json()["session_key"]


# --- the REST API -------------------------------------------------------------------------------
def test_a_rating_is_stored_replaced_and_cleared_through_the_api(site: Site) -> None:
    session_key = _api_session(site, turns=2)
    with site.api() as client:
        up = client.post(
            "/api/v1/chatbots/shop/feedback/",
            json={"session_key": session_key, "turn": 2, "rating": "up", "comment": "Spot on"},
        )
        assert up.status_code == 200, up.text
        assert up.json() == {"data": {"session_key": session_key, "turn": 2, "rating": "up", "comment": "Spot on"}}
        assert _stored() == [(session_key, 2, "up", "Spot on")]

        down = client.post(
            "/api/v1/chatbots/shop/feedback/", json={"session_key": session_key, "turn": 2, "rating": "down"}
        )
        assert down.json() == {"data": {"session_key": session_key, "turn": 2, "rating": "down", "comment": None}}
        assert _stored() == [(session_key, 2, "down", "")]

        cleared = client.post(
            "/api/v1/chatbots/shop/feedback/",
            json={"session_key": session_key, "turn": 2, "rating": None, "comment": "changed my mind"},
        )
        assert cleared.json()["data"] == {
            "session_key": session_key,
            "turn": 2,
            "rating": None,
            "comment": "changed my mind",
        }
    assert _stored() == [(session_key, 2, "", "changed my mind")]
    assert TurnRating.objects.count() == 0


def test_a_teammates_key_rates_the_accounts_sessions_and_an_outsider_finds_nothing(site: Site) -> None:
    session_key = _api_session(site)
    body = {"session_key": session_key, "turn": 1, "rating": "up"}
    with site.api(site.teammate) as client:
        assert client.post("/api/v1/chatbots/shop/feedback/", json=body).status_code == 200
    assert _stored() == [(session_key, 1, "up", "")]
    before = database_snapshot()
    with site.api(site.outsider) as client:
        # The outsider has a chatbot named shop too: the session is still not theirs.
        refused = client.post("/api/v1/chatbots/shop/feedback/", json={**body, "rating": "down"})
        assert refused.status_code == 404
        assert refused.json()["description"] == "No such chat session for this chatbot."
        assert (refused.json()["context"]["kind"], refused.json()["context"]["name"]) == ("Chat", session_key)
        assert client.post("/api/v1/chatbots/other/feedback/", json=body).status_code == 404
    assert database_snapshot() == before
    with site.api() as client:
        unauthenticated = httpx.post(f"{site.server.url}/api/v1/chatbots/shop/feedback/", json=body)
        assert unauthenticated.status_code == 401
        assert client.post("/api/v1/chatbots/other/feedback/", json=body).status_code == 404


def test_a_turn_the_session_does_not_have_is_not_found(site: Site) -> None:
    session_key = _api_session(site)
    before = database_snapshot()
    with site.api() as client:
        refused = client.post(
            "/api/v1/chatbots/shop/feedback/", json={"session_key": session_key, "turn": 2, "rating": "up"}
        )
    assert refused.status_code == 404
    assert refused.json()["description"] == "This session has no turn 2."
    assert database_snapshot() == before


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": 1}, "rating"),
        ({"turn": 0}, "turn"),
        ({"turn": "1"}, "turn"),
        ({"turn": None}, "turn"),
        ({"comment": "x" * 2001}, "comment"),
        ({"comment": 7}, "comment"),
        ({"session_key": ""}, "session_key"),
        ({"stars": 5}, "stars"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_nothing_is_stored(site: Site, change: dict[str, Any], loc: str) -> None:
    session_key = _api_session(site)
    body = {"session_key": session_key, "turn": 1, "rating": "up", **change}
    before = database_snapshot()
    with site.api() as client, site.visitor() as visitor:
        for response in (
            client.post("/api/v1/chatbots/shop/feedback/", json=body),
            visitor.post("/feedback/", json=body),
        ):
            assert response.status_code == 400, response.text
            envelope = response.json()
            assert (envelope["errorClass"], envelope["status"]) == ("ValidationError", 400)
            assert [error["loc"] for error in envelope["errors"]] == [loc]
    assert database_snapshot() == before


def test_a_missing_rating_is_refused_not_taken_for_a_cleared_one(site: Site) -> None:
    session_key = _api_session(site)
    with site.api() as client:
        refused = client.post("/api/v1/chatbots/shop/feedback/", json={"session_key": session_key, "turn": 1})
    assert refused.status_code == 400
    assert [error["loc"] for error in refused.json()["errors"]] == ["rating"]
    assert _stored() == []


# --- a deployed chatbot's host ------------------------------------------------------------------
def test_a_visitor_rates_an_answer_of_the_page_and_the_usage_counts_it(site: Site) -> None:
    with site.visitor() as visitor:
        answer = visitor.post("/chat/", json={"prompt": "hello"}).json()
        rated = visitor.post(
            "/feedback/",
            json={"session_key": answer["session_key"], "turn": answer["turn"], "rating": "down", "comment": "Vague"},
        )
    assert rated.status_code == 200, rated.text
    assert rated.json() == {
        "data": {"session_key": answer["session_key"], "turn": 1, "rating": "down", "comment": "Vague"}
    }
    assert _stored() == [(answer["session_key"], 1, "down", "Vague")]
    with site.api() as client:
        usage = client.get("/api/v1/usage/?group_by=channel").json()["data"]
    public = [row for row in usage["rows"] if row["key"] == "public"]
    assert [(row["requests"], row["thumbs_up"], row["thumbs_down"]) for row in public] == [(1, 0, 1)]
    assert (usage["totals"]["thumbs_up"], usage["totals"]["thumbs_down"]) == (0, 1)


def test_the_page_rates_only_its_own_public_sessions(site: Site) -> None:
    api_session = _api_session(site)
    with site.visitor(f"other.{site.owner.account.account_number}.api.example.com") as elsewhere:
        other_page_session = elsewhere.post("/chat/", json={"prompt": "hi"}).json()["session_key"]
    before = database_snapshot()
    with site.visitor() as visitor:
        for session_key in (api_session, other_page_session, "no-such-session"):
            refused = visitor.post("/feedback/", json={"session_key": session_key, "turn": 1, "rating": "up"})
            assert refused.status_code == 404, session_key
            assert refused.json()["errorClass"] == "NotFound"
    assert database_snapshot() == before


def test_the_pages_feedback_takes_json_only_and_answers_cors_like_chat(site: Site) -> None:
    apply(site.owner, chatbot_manifest("shop", deployed=True, allowedOrigins=["https://shop.example.org"]))
    with site.visitor() as visitor:
        answer = visitor.post("/chat/", json={"prompt": "hello"}).json()
        form = visitor.post(
            "/feedback/",
            content=f"session_key={answer['session_key']}&turn=1&rating=up",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415
        assert [error["loc"] for error in form.json()["errors"]] == ["headers.Content-Type"]
        body = {"session_key": answer["session_key"], "turn": 1, "rating": "up"}
        foreign = visitor.post("/feedback/", json=body, headers={"Origin": "https://evil.example.net"})
        assert foreign.status_code == 200
        assert "access-control-allow-origin" not in foreign.headers
        allowed = visitor.post("/feedback/", json=body, headers={"Origin": "https://shop.example.org"})
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example.org"
        for origin in ("https://shop.example.org", "https://evil.example.net"):
            preflights = [
                visitor.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
                for path in ("/chat/", "/feedback/")
            ]
            assert [response.status_code for response in preflights] == [204, 204]
            assert preflights[0].headers.get("access-control-allow-origin") == preflights[1].headers.get(
                "access-control-allow-origin"
            )
        assert visitor.get("/feedback/").status_code == 405


def test_the_pages_feedback_is_rate_limited_per_visitor(site: Site, smarter_settings: Any) -> None:
    smarter_settings.rate_limit_chatbot_ip_per_minute = 3
    with site.visitor() as visitor:
        answer = visitor.post("/chat/", json={"prompt": "hello"}).json()
        body = {"session_key": answer["session_key"], "turn": 1, "rating": "up"}
        statuses = [visitor.post("/feedback/", json=body).status_code for _ in range(3)]
        refused = visitor.post("/feedback/", json={**body, "rating": "down"})
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["errorClass"] == "RateLimited"
    assert _stored() == [(answer["session_key"], 1, "up", "")]


def test_an_undeployed_chatbots_host_takes_no_feedback(site: Site) -> None:
    with site.visitor() as visitor:
        answer = visitor.post("/chat/", json={"prompt": "hello"}).json()
    apply(site.owner, chatbot_manifest("shop", deployed=False))
    with site.visitor() as visitor:
        refused = visitor.post("/feedback/", json={"session_key": answer["session_key"], "turn": 1, "rating": "up"})
    assert refused.status_code == 404
    assert _stored() == []


# --- the sandbox --------------------------------------------------------------------------------
def _sandbox_session(site: Site, persona: Persona) -> str:
    with site.console(persona) as console:
        console.post("/dashboard/chatbots/shop/sandbox/turn/", json={"prompt": "hello"}).raise_for_status()
    return Chat.objects.filter(channel="sandbox", user_id=persona.user.pk).get().session_key


def test_the_sandbox_rates_only_the_callers_own_sandbox_sessions(site: Site) -> None:
    own = _sandbox_session(site, site.owner)
    teammates = _sandbox_session(site, site.teammate)
    api_session = _api_session(site)
    url = "/dashboard/chatbots/shop/sandbox/feedback/"
    with site.console() as console:
        rated = console.post(url, json={"session_key": own, "turn": 1, "rating": "up", "comment": "good"})
        assert rated.status_code == 200, rated.text
        assert rated.json() == {"data": {"session_key": own, "turn": 1, "rating": "up", "comment": "good"}}
        before = database_snapshot()
        for session_key in (teammates, api_session):
            refused = console.post(url, json={"session_key": session_key, "turn": 1, "rating": "down"})
            assert refused.status_code == 404
        bad = console.post(url, json={"session_key": own, "turn": 1, "rating": "sideways"})
        assert bad.status_code == 400 and [e["loc"] for e in bad.json()["errors"]] == ["rating"]
        assert database_snapshot() == before
    with site.console(site.teammate) as console:
        assert console.post(url, json={"session_key": teammates, "turn": 1, "rating": "down"}).status_code == 200
    with site.console(site.outsider) as console:
        refused = console.post(url, json={"session_key": own, "turn": 1, "rating": "down"})
        assert refused.status_code == 404
    with site.console(csrf=False) as console:
        assert console.post(url, json={"session_key": own, "turn": 1, "rating": "down"}).status_code == 403
    assert _stored() == sorted([(own, 1, "up", "good"), (teammates, 1, "down", "")])
