"""`smarter chat`: one turn or a conversation, with the reply streamed as it is generated.

The server answers `POST /api/v1/chatbots/<name>/chat/` with `"stream": true` as server-sent
events: `token` (`{"text"}`) as the model writes, `tool_call` and `tool_result` around each
plugin call, then `done` (the whole non-streaming body, with the `session_key`) or `error` (the
error envelope), read with httpx-sse. The session key is kept per server and chatbot in
`~/.smarter/sessions.yaml`, so the next run continues the same conversation until `/new` or
`--new`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from typing import Any

from httpx_sse import EventSource

from smarter_cli import config, output
from smarter_cli.client import SmarterClient
from smarter_cli.errors import ServerRefused, Unreachable, refusal_from_body


def event_payload(data: str) -> Any:
    """An event's data: JSON as the server sends it; an empty one is `{}`, plain text `{"text"}`."""
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {"text": data}


# --- one turn --------------------------------------------------------------------------------


class ReplyPrinter:
    """Writes the reply as it streams; tool calls go on their own dimmed lines."""

    def __init__(self) -> None:
        self.at_line_start = True
        self.wrote_text = False

    def text(self, text: str) -> None:
        if not text:
            return
        sys.stdout.write(text)
        sys.stdout.flush()
        self.wrote_text = True
        self.at_line_start = text.endswith("\n")

    def dim_line(self, line: str) -> None:
        self.end_line()
        output.console().print(line, style="dim", markup=False, highlight=False)

    def end_line(self) -> None:
        if not self.at_line_start:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.at_line_start = True

    def tool_call(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.dim_line(f"→ tool call {_short(data)}")
            return
        # A built-in function's call names no plugin: its function is in `tool`.
        name = data.get("plugin") or data.get("tool") or data.get("name") or "tool"
        arguments = data.get("arguments")
        self.dim_line(f"→ {name}({_short(arguments) if arguments not in (None, {}) else ''})")

    def tool_result(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.dim_line(f"← {_short(data)}")
            return
        name = data.get("plugin") or data.get("tool") or data.get("name") or "tool"
        timing = f" ({data['ms']:.0f} ms)" if isinstance(data.get("ms"), int | float) else ""
        if data.get("error") is not None:
            self.dim_line(f"← {name} failed: {_short(data['error'])}{timing}")
        else:
            self.dim_line(f"← {name}: {_short(data.get('result'))}{timing}")


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class TurnResult:
    session_key: str | None
    body: dict[str, Any]
    session_was_reset: bool = False


def run_turn(client: SmarterClient, chatbot: str, prompt: str, session_key: str | None) -> TurnResult:
    """Send one prompt and print the reply while it streams; raise ServerRefused on an error."""
    try:
        return _stream_turn(client, chatbot, prompt, session_key)
    except ServerRefused as refusal:
        # The stored session may have been deleted, or belong to another account or server:
        # the contract answers 404 for that, and a fresh session is what the user wants.
        if session_key and refusal.status == 404 and _is_session_refusal(refusal):
            result = _stream_turn(client, chatbot, prompt, None)
            result.session_was_reset = True
            return result
        raise


def _is_session_refusal(refusal: ServerRefused) -> bool:
    context_kind = str(refusal.context.get("kind", "")).lower()
    if context_kind == "chatbot":
        return False
    return "session" in refusal.message.lower() or context_kind in ("chat", "session", "")


def _stream_turn(client: SmarterClient, chatbot: str, prompt: str, session_key: str | None) -> TurnResult:
    printer = ReplyPrinter()
    try:
        with client.chat_stream(chatbot, prompt, session_key) as response:
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                # A server that ignores "stream" answers with the plain body: show it whole.
                response.read()
                body = json.loads(response.content or b"{}")
                return _finish(printer, body if isinstance(body, dict) else {}, streamed_tools=False)
            streamed_tools = False
            for event in EventSource(response).iter_sse():
                data = event_payload(event.data)
                if event.event == "token":
                    printer.text(str(data.get("text", "")) if isinstance(data, dict) else str(data))
                elif event.event == "tool_call":
                    streamed_tools = True
                    printer.tool_call(data)
                elif event.event == "tool_result":
                    streamed_tools = True
                    printer.tool_result(data)
                elif event.event == "done":
                    body = data if isinstance(data, dict) else {}
                    return _finish(printer, body, streamed_tools=streamed_tools)
                elif event.event == "error":
                    printer.end_line()
                    status = int(data.get("status") or 500) if isinstance(data, dict) else 500
                    raise refusal_from_body(status, "", data, event.data)
    except ValueError:
        printer.end_line()
        raise ServerRefused("The server's reply was not valid JSON.", status=200) from None
    finally:
        printer.end_line()
    raise Unreachable(f"The server at {client.base_url} closed the connection before the reply was complete.")


def _finish(printer: ReplyPrinter, body: dict[str, Any], *, streamed_tools: bool) -> TurnResult:
    if not printer.wrote_text:
        if not streamed_tools:
            for call in body.get("tool_calls") or []:
                printer.tool_call(call)
                printer.tool_result(call)
        message = body.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        printer.text(str(content or ""))
    printer.end_line()
    session_key = body.get("session_key")
    return TurnResult(session_key=str(session_key) if session_key else None, body=body)


# --- the commands ------------------------------------------------------------------------------

SESSION_RESET_NOTE = "(the previous session was gone; this is a new one)"
HELP_TEXT = "/new starts a new session, /exit or Ctrl-D quits."


def print_refusal(refusal: ServerRefused) -> None:
    output.print_failure_lines(refusal.lines())


def one_turn(client: SmarterClient, chatbot: str, prompt: str, *, new_session: bool) -> None:
    session_key = None if new_session else config.load_session(client.base_url, chatbot)
    result = run_turn(client, chatbot, prompt, session_key)
    if result.session_was_reset:
        output.error_console().print(SESSION_RESET_NOTE, style="dim", markup=False)
    config.store_session(client.base_url, chatbot, result.session_key)


def conversation(client: SmarterClient, chatbot: str, *, new_session: bool) -> int:
    if new_session:
        config.store_session(client.base_url, chatbot, None)
    session_key = config.load_session(client.base_url, chatbot)
    with contextlib.suppress(ImportError):  # Windows has no readline
        import readline  # noqa: F401  (line editing and history for input())
    # Piped input (`printf 'a\nb\n' | smarter chat bot`): each line is a prompt, and only the
    # replies are printed, so the output can be read by another program.
    interactive = sys.stdin.isatty()
    if interactive:
        if session_key:
            output.console().print(
                f"Chatting with {chatbot}, continuing session {session_key[:12]}. {HELP_TEXT}", markup=False
            )
        else:
            output.console().print(f"Chatting with {chatbot}, new session. {HELP_TEXT}", markup=False)
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            if interactive:
                output.write("")
            return 0
        except KeyboardInterrupt:
            output.write("")
            return 130
        prompt = line.strip()
        if not prompt:
            continue
        if prompt in ("/exit", "/quit"):
            return 0
        if prompt == "/new":
            session_key = None
            config.store_session(client.base_url, chatbot, None)
            output.console().print("Started a new session.", style="dim", markup=False)
            continue
        if prompt == "/help":
            output.console().print(HELP_TEXT, markup=False)
            continue
        if prompt.startswith("/"):
            output.console().print(f"Unknown command {prompt}. {HELP_TEXT}", markup=False)
            continue
        try:
            result = run_turn(client, chatbot, prompt, session_key)
        except ServerRefused as refusal:
            print_refusal(refusal)
            if not interactive:
                return 1  # a script reading the replies must learn that one failed; it stops here
            continue
        except KeyboardInterrupt:
            output.console().print("(reply interrupted)", style="dim", markup=False)
            continue
        if result.session_was_reset:
            output.console().print(SESSION_RESET_NOTE, style="dim", markup=False)
        session_key = result.session_key
        config.store_session(client.base_url, chatbot, session_key)
