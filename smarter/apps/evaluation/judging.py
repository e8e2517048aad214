"""The judge of a run: a model that scores each answer against the suite's rubric, asked
`samples` times per answer, through the platform's own providers (`chat.upstreams`: the
platform's, or a Provider of the account, chosen as the turn pipeline chooses).

A judge call is accounted as a turn is: it is admitted by the account's evaluation rate limit
and monthly budget before the model is called, and what it consumed goes to the billing outbox
(`usage_event_record`, channel `evaluation`, no turn id) in the same way, so it is charged,
counted in usage and in the budget. A reply that is not the strict JSON asked for is asked once
more; a second one makes the attempt an error (502), as an upstream failure does, never a 0.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from smarter.apps.account.billing import limits as billing_limits
from smarter.apps.account.billing import services as billing_services
from smarter.apps.chat.providers.base import (
    ChatProvider,
    ProviderReply,
    ProviderRequest,
    Usage,
    consumed_by,
    estimate_prompt_tokens,
)
from smarter.apps.chat.upstreams import Upstream, platform_provider_name, upstream_for
from smarter.apps.evaluation.models import EvalRun
from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, Score
from smarter.apps.evaluation.scorers.judge import MalformedVerdict, Verdict, judge_messages, judge_score, read_verdict
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import RateLimited, SmarterError, UpstreamError, UpstreamTimeout, ValidationFailed

ASKS_PER_SAMPLE = 2  # a malformed reply is asked once more
RATE_LIMIT_WAITS = 6
LONGEST_WAIT_SECONDS = 60.0
# A verdict is a score and a sentence: what the budget holds for its answer. The request sets no
# length limit, since a reasoning model spends its limit on reasoning and would answer nothing.
VERDICT_TOKENS = 200


@dataclass(frozen=True)
class Judge:
    """The judge of one run, resolved once when the run starts."""

    run: EvalRun
    upstream: Upstream
    rubric: str
    samples: int
    scale: str
    temperature: float | None

    async def score(
        self,
        *,
        case: dict[str, Any],
        prompts: Sequence[str],
        answer: CaseAnswer,
        expectation: CaseExpectation,
        session_key: str,
    ) -> Score:
        """The mean of `samples` verdicts on the answer, asked at once; raises a SmarterError
        (the attempt errors) when any sample fails."""
        messages = judge_messages(
            rubric=self.rubric,
            case_rubric=case.get("rubric"),
            prompts=prompts,
            answer=answer,
            expectation=expectation,
            scale=self.scale,
        )
        request = ProviderRequest(
            messages=tuple(messages),
            model=self.upstream.model,
            temperature=self.temperature,
            timeout=self.upstream.timeout,
        )
        client = self.upstream.client()
        verdicts = await asyncio.gather(*(self._sample(client, request, session_key) for _ in range(self.samples)))
        return judge_score(verdicts)

    async def _sample(self, client: ChatProvider, request: ProviderRequest, session_key: str) -> Verdict:
        problem = ""
        for _ in range(ASKS_PER_SAMPLE):
            reply = await self._ask(client, request, session_key)
            try:
                return read_verdict(reply.content.strip(), self.scale)
            except MalformedVerdict as malformed:
                problem = str(malformed)
        raise UpstreamError(f"The judge's reply was not the JSON asked for, twice: {problem}")

    async def _ask(self, client: ChatProvider, request: ProviderRequest, session_key: str) -> ProviderReply:
        """One judge call, admitted and accounted as a turn is."""
        reservation = await self._admit(estimate_prompt_tokens(request) + VERDICT_TOKENS)
        try:
            reply = await client.complete(request)
        except (UpstreamError, UpstreamTimeout) as error:
            await in_db_thread(self._account, consumed_by(error), reservation, session_key)
            raise
        await in_db_thread(self._account, reply.usage, reservation, session_key)
        return reply

    async def _admit(self, estimate: int) -> billing_limits.Reservation | None:
        """The evaluation rate limit (waited out, as the runner waits for a turn) and the budget."""
        for _ in range(RATE_LIMIT_WAITS):
            try:
                return await in_db_thread(self._admit_now, estimate)
            except RateLimited as refused:
                wait = float(refused.headers.get("Retry-After", "1") or 1)
                await asyncio.sleep(min(max(wait, 0.5), LONGEST_WAIT_SECONDS))
        return await in_db_thread(self._admit_now, estimate)

    def _admit_now(self, estimate: int) -> billing_limits.Reservation | None:
        run = self.run
        return billing_limits.turn_admit(
            account=run.account,
            api_key=None,
            chatbot_id=run.chatbot_id,
            chatbot_name=run.chatbot.name,
            channel="evaluation",
            client_ip=None,
            estimate=estimate,
            user_id=run.created_by_id,
        )

    @transaction.atomic
    def _account(self, usage: Usage, reservation: billing_limits.Reservation | None, session_key: str) -> None:
        """The call's outbox row (charged after commit, as a turn's) and its budget hold settled."""
        run, upstream = self.run, self.upstream
        billing_services.usage_event_record(
            account=run.account,
            turn_id=None,
            key=f"judge-{run.pk}-{secrets.token_hex(8)}",
            created_at=timezone.now(),
            user=run.created_by,
            api_key=None,
            chatbot_id=run.chatbot_id,
            chatbot_name=run.chatbot.name,
            session_key=session_key,
            channel="evaluation",
            provider=upstream.provider,
            model=upstream.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            tools=[],
        )
        used = usage.total_tokens
        transaction.on_commit(lambda: billing_limits.budget_settle(reservation=reservation, actual_tokens=used))


def judge_of(run: EvalRun) -> Judge | SmarterError | None:
    """The run's judge as its suite version states it (None: the suite has no judge), or why
    it cannot judge now (its Provider deleted, the offline model, an unpriced model): then every
    case that names the judge errors with that reason."""
    spec = run.suite_version.spec.get("judge")
    if not spec:
        return None
    name = spec.get("provider") or platform_provider_name()
    upstream = upstream_for(account=run.account, name=name, model=spec.get("model"))
    if upstream is None:
        return ValidationFailed(f"The judge's provider {name!r} no longer exists.")
    if upstream.provider == "offline":
        return ValidationFailed("The judge's provider is the offline model, which cannot judge answers.")
    if upstream.needs_price and not upstream.priced:
        return ValidationFailed(f"The judge's model {upstream.model!r} has no price on this platform.")
    return Judge(
        run=run,
        upstream=upstream,
        rubric=spec["rubric"],
        samples=int(spec.get("samples", 3)),
        scale=spec.get("scale", "0-1"),
        temperature=spec.get("temperature"),
    )
