"""The embedded default provider: a small deterministic model that needs no key and no network.

It is what `make run`, the sandbox, the demo chatbot and the test suite talk to when no LLM
provider is configured, and it says so in its answers. It is not a language model; it follows
the same protocol one does, well enough that a whole turn runs end to end:

- offered tools and asked by the user, it calls the one tool whose name, description,
  parameter names or enum values best match the user's words, and fills the arguments from the
  numbers and enum values in the message (else the schema's defaults);
- a search tool (a knowledge plugin: one required `query`) is called with the user's whole
  message, and is the one called for a question (a message ending in "?") that no tool's words
  match: documents may answer any question, while "hello" is no question to search for;
- given tool results, it answers with a short summary quoting their values; given chunks a
  knowledge plugin retrieved, it quotes the best of them and names their documents;
- otherwise it explains that no provider is configured and how to set one.

Its answers stream word by word and report token usage (about four characters per token), so
streaming UIs and billing work too. Everything is a pure function of the request.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Any

from smarter.apps.chat.providers.base import (
    Completed,
    Message,
    ProviderEvent,
    ProviderReply,
    ProviderRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
)

OFFLINE_MODEL = "smarter-offline"
# The argument of a search tool (a knowledge plugin's only one).
SEARCH_PARAMETER = "query"
# How many retrieved chunks an answer quotes, and how much of each.
QUOTED_CHUNKS = 2
QUOTED_CHUNK_CHARACTERS = 700

HOW_TO_CONFIGURE = (
    "To answer with a real model, set SMARTER_OPENAI_API_KEY (with SMARTER_OPENAI_BASE_URL for any "
    "OpenAI-compatible server such as vLLM, Ollama or llama.cpp), or apply a Provider manifest and name "
    "it as your chatbot's provider."
)
FOOTNOTE = (
    f"(Answered by {OFFLINE_MODEL}, Smarter's built-in offline model: no LLM provider is configured. "
    "For a real model set SMARTER_OPENAI_API_KEY, SMARTER_OPENAI_BASE_URL or apply a Provider manifest.)"
)

# Words keep their contractions ("what's") so that filler can be recognised as a whole, and
# numbers keep their decimals.
_WORD = re.compile(r"\d+(?:\.\d+)?|[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PIECE = re.compile(r"\s*\S+|\s+$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# Words that carry no topic: questions, politeness, and the verbs people use to ask for data.
_STOPWORDS = frozenset(
    """
    a about after all also am an and any are as at be been but by can could did do does for from get
    give had has have he her here him his how i if in into is it its just know let like look me my
    need no not of on or our please show she so some tell than that the their them then there these
    they this those to up us want was we were what when where which who why will with would you your
    find list see info information what's it's i'm let's where's how's that's there's
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# A few everyday words mapped to the keys plugins usually use, so "how much does it cost"
# reaches a `price` key. Kept small on purpose: the offline model is a demonstration aid.
_SYNONYMS = {
    "cost": "price",
    "costs": "price",
    "pricing": "price",
    "expensive": "price",
    "cheap": "price",
    "fee": "price",
    "email": "contact",
    "phone": "contact",
    "call": "contact",
    "reach": "contact",
    "describe": "description",
    "explain": "description",
    "overview": "description",
    "summary": "description",
    "hour": "hours",
    "open": "hours",
    "located": "location",
    "where": "location",
    "address": "location",
}


def stem(word: str) -> str:
    """A crude, consistent stem: plurals and common endings folded, so `prices` meets `price`."""
    word = word.lower().replace("\u2019", "'").removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The words of `text`, with snake_case and camelCase identifiers split apart."""
    return _WORD.findall(_CAMEL.sub(" ", text.replace("_", " ")))


def topic_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning, synonyms folded in."""
    stems: set[str] = set()
    for word in words(text):
        lower = word.lower()
        if lower in _SYNONYMS:
            stems.add(stem(_SYNONYMS[lower]))
        if lower not in _STOPWORDS:
            stems.add(stem(lower))
    return stems


class OfflineProvider:
    """The `offline` provider. Ignores the requested model: it is always `smarter-offline`."""

    name = "offline"

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        return self.respond(request)

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        reply = self.respond(request)
        for piece in _PIECE.findall(reply.content):
            yield TextDelta(piece)
            # Let other tasks run between words, as they would while a real model generates.
            await asyncio.sleep(0)
        for call in reply.tool_calls:
            yield ToolCallReady(call)
        yield Completed(reply)

    def respond(self, request: ProviderRequest) -> ProviderReply:
        """The whole reply, synchronously; `complete` and `stream` both come from here."""
        messages = list(request.messages)
        last = messages[-1] if messages else None
        calls: tuple[ToolCall, ...] = ()
        public = request.for_public
        if last is not None and last.role == "tool":
            content = summarise_tool_results(messages, public=public)
        elif last is not None and last.role == "user" and request.tools:
            call = choose_tool_call(last.content, request.tools, turn=_count_user_messages(messages))
            if call is None:
                content = _explain(last.content, tools_offered=True, public=public)
            else:
                content, calls = "", (call,)
        else:
            asked = last.content if last is not None and last.role == "user" else ""
            content = _explain(asked, tools_offered=False, public=public)
        finish_reason = "tool_calls" if calls else "stop"
        if not calls:
            content, finish_reason = bounded(
                content, stop=request.parameters.get("stop"), max_tokens=request.max_tokens
            )
        completion_text = content + "".join(call.name + call.raw_arguments for call in calls)
        usage = Usage.of(estimate_prompt_tokens(request), estimate_tokens(completion_text))
        return ProviderReply(content, calls, usage, OFFLINE_MODEL, self.name, finish_reason)


def bounded(content: str, *, stop: str | Sequence[str] | None, max_tokens: int | None) -> tuple[str, str]:
    """The answer as a model honouring `stop` and `max_tokens` gives it: cut before the first
    stop sequence (finish `stop`), then to whole words within `max_tokens` (finish `length`)."""
    sequences = [stop] if isinstance(stop, str) else list(stop or ())
    cuts = [index for index in (content.find(sequence) for sequence in sequences if sequence) if index >= 0]
    if cuts:
        content = content[: min(cuts)]
    if max_tokens is None or estimate_tokens(content) <= max_tokens:
        return content, "stop"
    kept = ""
    for piece in _PIECE.findall(content):
        if estimate_tokens(kept + piece) > max_tokens:
            break
        kept += piece
    return kept, "length"


# --- choosing a tool ----------------------------------------------------------------------------


def _function(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function", tool)
    return function if isinstance(function, dict) else {}


def _properties(function: dict[str, Any]) -> dict[str, dict[str, Any]]:
    properties = (function.get("parameters") or {}).get("properties") or {}
    return {name: spec for name, spec in properties.items() if isinstance(spec, dict)}


def _enum_values(function: dict[str, Any]) -> list[str]:
    return [str(value) for spec in _properties(function).values() for value in spec.get("enum") or []]


def score_tool(prompt_stems: set[str], tool: dict[str, Any]) -> int:
    """How well a tool matches the user's words: name counts most, then enum values, then the rest."""
    function = _function(tool)
    name = topic_stems(str(function.get("name", "")))
    enum = topic_stems(" ".join(_enum_values(function)))
    description = topic_stems(str(function.get("description", "")))
    parameters = topic_stems(
        " ".join(f"{key} {spec.get('description', '')}" for key, spec in _properties(function).items())
    )
    return (
        3 * len(prompt_stems & name)
        + 2 * len(prompt_stems & enum)
        + len(prompt_stems & description)
        + len(prompt_stems & parameters)
    )


def choose_tool_call(prompt: str, tools: Sequence[dict[str, Any]], *, turn: int = 1) -> ToolCall | None:
    """The call to make for `prompt`, or None when no tool shares a word with it.

    Ties go to the tool offered first, so the choice is stable.
    """
    prompt_stems = topic_stems(prompt)
    best: tuple[int, int] | None = None
    for index, tool in enumerate(tools):
        score = score_tool(prompt_stems, tool)
        if score > 0 and (best is None or score > best[0]):
            best = (score, index)
    if best is None and prompt.rstrip().endswith("?"):
        best = next(((0, index) for index, tool in enumerate(tools) if is_search_tool(tool)), None)
    if best is None:
        return None
    function = _function(tools[best[1]])
    arguments = fill_arguments(prompt, function)
    name = str(function.get("name", ""))
    return ToolCall(f"call_offline_{turn}_{best[1]}", name, arguments, json.dumps(arguments))


def is_search_tool(tool: dict[str, Any]) -> bool:
    """A tool that searches with a free-text `query` and needs nothing else: a knowledge plugin."""
    function = _function(tool)
    required = (function.get("parameters") or {}).get("required") or []
    return required == [SEARCH_PARAMETER] and _properties(function).get(SEARCH_PARAMETER, {}).get("type") == "string"


def fill_arguments(prompt: str, function: dict[str, Any]) -> dict[str, Any]:
    """Arguments for `function` from the user's words: enum values and numbers found, else defaults.

    A number goes to the numeric parameter named next to it ("customer 42" fills
    `customer_id`), the others to the remaining numeric parameters in order. A required string
    that nothing fills gets the message's most specific words: those that are neither filler,
    nor an enum value, nor part of the tool's own vocabulary ("weather in Paris" gives "Paris").
    """
    parameters = function.get("parameters") or {}
    required = set(parameters.get("required") or [])
    properties = _properties(function)
    prompt_stems = topic_stems(prompt)
    arguments: dict[str, Any] = {}
    for name, spec in properties.items():
        if spec.get("enum"):
            value = _best_enum(prompt_stems, spec["enum"])
            if value is not None:
                arguments[name] = value
            elif "default" in spec:
                arguments[name] = spec["default"]
            elif name in required:
                arguments[name] = spec["enum"][0]
    numeric = [name for name, spec in properties.items() if spec.get("type") in ("integer", "number")]
    arguments.update(_bind_numbers(prompt, numeric, required))
    for name, spec in properties.items():
        if name in arguments:
            continue
        if name == SEARCH_PARAMETER and spec.get("type") == "string":
            # A search matches the documents' words best with the whole question.
            arguments[name] = " ".join(prompt.split())
        elif "default" in spec:
            arguments[name] = spec["default"]
        elif name in required and spec.get("type") == "string":
            arguments[name] = _specific_words(prompt, function)
        elif name in required and spec.get("type") == "boolean":
            arguments[name] = False
    for name in numeric:
        if name in arguments and properties[name].get("type") == "integer":
            arguments[name] = int(arguments[name])
    # Keep the schema's order, which is the order a reader expects.
    return {name: arguments[name] for name in properties if name in arguments}


def _bind_numbers(prompt: str, numeric: list[str], required: set[str]) -> dict[str, int | float]:
    tokens = words(prompt)
    positions = [index for index, token in enumerate(tokens) if _NUMBER.fullmatch(token)]
    bound: dict[str, int | float] = {}
    used: set[int] = set()
    for name in numeric:
        name_stems = topic_stems(name)
        for index in positions:
            if index in used:
                continue
            nearby = tokens[max(0, index - 2) : index] + tokens[index + 1 : index + 2]
            if name_stems & topic_stems(" ".join(nearby)):
                bound[name] = _number(tokens[index])
                used.add(index)
                break
    # Unclaimed numbers fill the remaining parameters, required ones first.
    remaining = [index for index in positions if index not in used]
    for name in sorted((name for name in numeric if name not in bound), key=lambda name: name not in required):
        if not remaining:
            break
        bound[name] = _number(tokens[remaining.pop(0)])
    return bound


def _best_enum(prompt_stems: set[str], values: Iterable[Any]) -> Any:
    best: tuple[int, Any] | None = None
    for value in values:
        overlap = len(prompt_stems & topic_stems(str(value)))
        if overlap and (best is None or overlap > best[0]):
            best = (overlap, value)
    return best[1] if best else None


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _specific_words(prompt: str, function: dict[str, Any]) -> str:
    properties = _properties(function)
    vocabulary = topic_stems(
        " ".join(
            [str(function.get("name", "")), str(function.get("description", "")), *_enum_values(function)]
            + [f"{key} {spec.get('description', '')}" for key, spec in properties.items()]
        )
    )
    tokens = words(prompt)
    specific = [
        index
        for index, word in enumerate(tokens)
        if word.lower() not in _STOPWORDS
        and len(word) > 1
        and stem(word) not in vocabulary
        and not _NUMBER.fullmatch(word)
    ]
    if not specific:
        return " ".join(prompt.split())[:100]
    # Names people capitalise mid-sentence ("weather in Paris") are what a tool usually needs;
    # otherwise the last run of specific words ("weather for new york").
    names = [tokens[index] for index in specific if index > 0 and tokens[index][0].isupper()]
    if names:
        return " ".join(names[:3])
    run = [specific[-1]]
    while len(run) < 3 and run[0] - 1 in specific:
        run.insert(0, run[0] - 1)
    return " ".join(tokens[index] for index in run)


def _count_user_messages(messages: Sequence[Message]) -> int:
    return sum(1 for message in messages if message.role == "user")


# --- answering ----------------------------------------------------------------------------------


def summarise_tool_results(messages: Sequence[Message], *, public: bool = False) -> str:
    """A short readable answer quoting the results of the last round of tool calls (with, except
    for the public, a footnote telling the operator how to use a real model)."""
    trailing: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        trailing.append(message)
    trailing.reverse()
    names = {call.id: call.name for message in messages if message.role == "assistant" for call in message.tool_calls}
    sections = []
    for message in trailing:
        tool = message.name or names.get(message.tool_call_id or "", "the tool")
        sections.append(_describe_result(tool, message.content))
    return "\n\n".join(sections if public else [*sections, FOOTNOTE])


def _describe_result(tool: str, content: str) -> str:
    try:
        value: Any = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        value = content
    if isinstance(value, dict) and set(value) == {"result"}:
        # A result envelope adds nothing for the reader.
        value = value["result"]
    if isinstance(value, dict) and set(value) <= {"error", "detail", "message"} and "error" in value:
        return f"{tool} reported an error: {_quote(value['error'])}"
    chunks = _retrieved_chunks(value)
    if chunks is not None:
        return _answer_from_chunks(tool, chunks)
    lines = _lines(value)
    if len(lines) == 1:
        return f"According to {tool}: {lines[0]}"
    return f"According to {tool}:\n" + "\n".join(f"- {line}" for line in lines)


def _retrieved_chunks(value: Any) -> list[dict[str, Any]] | None:
    """The chunks of a knowledge plugin's result (`{"results": [{"document", "text", ...}]}`), else None."""
    if not isinstance(value, dict) or set(value) != {"results"} or not isinstance(value["results"], list):
        return None
    chunks = value["results"]
    if not all(isinstance(chunk, dict) and {"document", "text"} <= set(chunk) for chunk in chunks):
        return None
    return chunks


def _answer_from_chunks(tool: str, chunks: list[dict[str, Any]]) -> str:
    """The best chunks quoted, each under the name of its document: an answer with its sources."""
    if not chunks:
        return f"I searched the documents of {tool} and found nothing about that."
    quoted = [
        f"From \u201c{chunk['document']}\u201d:\n{_quote(chunk['text'], QUOTED_CHUNK_CHARACTERS)}"
        for chunk in chunks[:QUOTED_CHUNKS]
    ]
    return "\n\n".join(quoted)


def _lines(value: Any, limit: int = 8) -> list[str]:
    if isinstance(value, dict):
        lines = [f"{_label(key)}: {_quote(item)}" for key, item in list(value.items())[:limit]]
        if len(value) > limit:
            lines.append(f"... and {len(value) - limit} more")
        return lines or ["(nothing)"]
    if isinstance(value, list):
        if not value:
            return ["no results"]
        shown = value[:5]
        if all(isinstance(item, dict) for item in shown):
            lines = [", ".join(f"{_label(k)}: {_quote(v)}" for k, v in list(item.items())[:6]) for item in shown]
        else:
            lines = [_quote(item) for item in shown]
        if len(value) > len(shown):
            lines.append(f"... and {len(value) - len(shown)} more")
        return lines
    return [_quote(value)]


def _label(key: Any) -> str:
    return " ".join(words(str(key))) or str(key)


def _quote(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(prompt: str, *, tools_offered: bool, public: bool = False) -> str:
    if public:
        # A visitor can do nothing about the platform's configuration: no model or variable names.
        asked = f" about \u201c{_quote(prompt, 120)}\u201d" if prompt.strip() else ""
        return f"Sorry, I have no answer{asked}. Try asking another way, or one of the example questions."
    opening = f"I am {OFFLINE_MODEL}, Smarter's built-in offline model: no LLM provider is configured"
    if prompt.strip():
        asked = _quote(prompt, 120)
        if tools_offered:
            opening += f", and none of this chatbot's plugins matches \u201c{asked}\u201d"
        else:
            opening += f", so I cannot really answer \u201c{asked}\u201d"
    return f"{opening}. {HOW_TO_CONFIGURE}"
