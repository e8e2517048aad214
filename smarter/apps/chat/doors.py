"""What every door that runs a turn shares: the body of a chat request, and a turn's events as
server-sent-event frames. The doors (the REST API, a deployed chatbot's page, the sandbox) adapt
these to their own request and response; none of them imports another."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from typing import Any, Literal

from django.contrib.auth.models import User
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from smarter.apps.account.billing.limits import feedback_admit
from smarter.apps.account.models import Account, ApiKey
from smarter.apps.chat.models import Feedback
from smarter.apps.chat.pipeline import run_turn_events
from smarter.apps.chat.services import feedback_record
from smarter.apps.chat.turns import TokenEvent, ToolCallEvent, ToolResultEvent, TurnDone, TurnEvent, TurnInput
from smarter.apps.chatbot.models import Chatbot
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import SmarterError, UpstreamError, UpstreamTimeout
from smarter.lib.http.errors import internal_error
from smarter.lib.http.sse import sse, sse_error

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARACTERS = 32_000
MAX_COMMENT_CHARACTERS = 2000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARACTERS)
    session_key: str | None = Field(None, max_length=64)
    stream: bool = False


class FeedbackRequest(BaseModel):
    """A visitor's rating of one answer: the session, the answer's `turn` (from the chat body),
    `up`, `down` or null (no rating), and an optional comment. Each post replaces the turn's
    feedback whole."""

    model_config = ConfigDict(extra="forbid")

    session_key: str = Field(min_length=1, max_length=64)
    turn: StrictInt = Field(ge=1)
    rating: Literal["up", "down"] | None
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARACTERS)


def feedback_body(feedback: Feedback, *, session_key: str, turn: int) -> dict[str, Any]:
    """What every feedback door answers: the feedback as stored."""
    return {
        "data": {
            "session_key": session_key,
            "turn": turn,
            "rating": feedback.rating or None,
            "comment": feedback.comment or None,
        }
    }


async def feedback_rate(
    body: FeedbackRequest,
    *,
    account: Account,
    chatbot: Chatbot,
    client_ip: str | None,
    api_key: ApiKey | None = None,
    user_id: int | None = None,
    channels: Collection[str] | None = None,
    user: User | None = None,
) -> dict[str, Any]:
    """Every feedback door, once it knows who rates: admitted by the rate limit of that rater
    (`api_key`, else the console user `user_id`, else the visitor's address), stored among the
    sessions the door serves (`channels`, `user`: see `feedback_record`), answered as stored."""
    await in_db_thread(
        feedback_admit,
        account=account,
        chatbot_id=chatbot.pk,
        api_key=api_key,
        user_id=user_id,
        client_ip=client_ip,
    )
    stored = await in_db_thread(
        feedback_record,
        account=account,
        chatbot=chatbot,
        session_key=body.session_key,
        turn=body.turn,
        rating=body.rating,
        comment=body.comment or "",
        channels=channels,
        user=user,
    )
    return feedback_body(stored, session_key=body.session_key, turn=body.turn)


def sse_frame(event: TurnEvent) -> bytes:
    if isinstance(event, TokenEvent):
        return sse("token", {"text": event.text})
    if isinstance(event, ToolCallEvent):
        return sse("tool_call", event.as_dict())
    if isinstance(event, ToolResultEvent):
        return sse("tool_result", event.as_dict())
    assert isinstance(event, TurnDone)
    return sse("done", event.result.as_body())


def for_visitors(error: SmarterError) -> SmarterError:
    """An upstream failure as a public visitor reads it: the same status, none of the platform's
    provider names, models or timeouts (those stay in the log line written here)."""
    if isinstance(error, UpstreamTimeout):
        shown: SmarterError = UpstreamTimeout("The assistant took too long to answer; please try again.")
    elif isinstance(error, UpstreamError):
        shown = UpstreamError("The assistant is not available right now; please try again in a moment.")
    else:
        return error
    logger.warning("upstream failure shown to a visitor as %s: %s", shown.error_class, error.description)
    return shown


async def turn_frames(turn: TurnInput) -> AsyncIterator[bytes]:
    """The turn's events as frames. Awaiting this starts the turn: an error before its first
    event is raised here (the door answers it with its real status); later ones arrive as an
    `event: error` frame, since the status line is sent by then."""
    events = run_turn_events(turn)
    try:
        first = await anext(events)
    except SmarterError as error:
        shown = for_visitors(error) if turn.for_public else error
        if shown is error:
            raise
        raise shown from error

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield sse_frame(first)
            async for event in events:
                yield sse_frame(event)
        except SmarterError as error:
            yield sse_error(for_visitors(error) if turn.for_public else error)
        except Exception:
            # The status line is sent: a bug becomes an error event, never a cut connection.
            logger.exception("unhandled error in a chat stream")
            yield sse_error(internal_error())
        finally:
            # Closed early (the client left): the turn closes now, cancelling the upstream call
            # and recording what it consumed.
            await events.aclose()

    return frames()
