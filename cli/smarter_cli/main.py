"""The `smarter` command: its verbs, their options and help, and the exit codes.

Every verb resolves the server and key the same way (see `config.py`), calls the server through
`SmarterClient`, and prints through `output.py`. Failures are raised as `CliFailure` and turned
into a message and an exit code by `reported`, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from smarter_cli import chat as chat_module
from smarter_cli import config, evaluation, knowledge, output
from smarter_cli.client import SmarterClient
from smarter_cli.deploy import wait_for_deployment
from smarter_cli.errors import EXIT_REFUSED, CliFailure, ServerRefused, UsageFailure, field_lines
from smarter_cli.manifests import Document, in_dependency_order, load_documents
from smarter_cli.version import client_version

KNOWN_KINDS = (
    "account",
    "user",
    "apikey",
    "secret",
    "provider",
    "sqlconnection",
    "apiconnection",
    "plugin",
    "sqlplugin",
    "apiplugin",
    "knowledgebase",
    "knowledgeplugin",
    "chatbot",
    "testsuite",
    "channel",
    "chat",
    "chathistory",
    "chattoolcall",
    "chatpluginusage",
)

Command = TypeVar("Command", bound=Callable[..., Any])


def reported(command: Command) -> Command:
    """Failures become their message and exit code; Ctrl-C exits 130, as shells expect."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CliFailure as failure:
            output.print_failure_lines(failure.lines())
            raise typer.Exit(failure.exit_code) from None
        except KeyboardInterrupt:
            output.write_error("Interrupted.")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


app = typer.Typer(
    name="smarter",
    help=(
        "Command-line client of Smarter: apply manifests, read and delete resources, deploy "
        "chatbots, chat with them and evaluate them.\n\n"
        "The server and API key come from `--base-url`/`--api-key`, else `SMARTER_BASE_URL`/"
        "`SMARTER_API_KEY`, else `~/.smarter/config.yaml` (see `smarter configure`).\n\n"
        "Exit codes: 0 ok, 1 the server refused, 2 usage error, 3 the server cannot be reached.\n\n"
        "**Example:** `smarter apply -f manifests/ && smarter get chatbots`"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class DocumentFormat(StrEnum):
    yaml = "yaml"
    json = "json"


@dataclass(frozen=True)
class GlobalOptions:
    base_url: str | None = None
    api_key: str | None = None


def complete_kind(incomplete: str) -> list[str]:
    return [kind for kind in KNOWN_KINDS if kind.startswith(incomplete.lower())]


KindArgument = Annotated[
    str,
    typer.Argument(
        metavar="KIND",
        help="Kind of resource: secret, user, apikey, plugin, chatbot, … (any case; plurals work).",
        autocompletion=complete_kind,
        show_default=False,
    ),
]
NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The resource's metadata.name.", show_default=False)]


def _settings(ctx: typer.Context) -> config.Settings:
    options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
    return config.resolve(base_url_flag=options.base_url, api_key_flag=options.api_key)


def _client(ctx: typer.Context) -> SmarterClient:
    settings = _settings(ctx)
    return SmarterClient(settings.base_url, settings.require_api_key())


@app.callback()
def root(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", metavar="URL", help="Server to talk to, e.g. http://localhost:8000."),
    ] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", metavar="KEY", help="API key to send.")] = None,
) -> None:
    ctx.obj = GlobalOptions(base_url=base_url, api_key=api_key)


# --- configure -------------------------------------------------------------------------------


@app.command()
@reported
def configure(
    ctx: typer.Context,
    base_url: Annotated[str | None, typer.Option("--base-url", metavar="URL", help="Server URL to store.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", metavar="KEY", help="API key to store.")] = None,
    output_format: Annotated[
        ListFormat | None, typer.Option("--output", "-o", help="Default output format of get.")
    ] = None,
) -> None:
    """Store the server URL, API key and output format in `~/.smarter/config.yaml`.

    Asks for what the options do not give when run in a terminal; Enter keeps the stored value.
    The file is readable by you only. Environment variables and flags still override it.

    **Example:** `smarter configure --base-url http://localhost:8000 --api-key "$KEY" -o table`
    """
    options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
    stored = config.read_config_file()
    chosen_url = base_url or options.base_url
    chosen_key = api_key or options.api_key
    chosen_format = output_format.value if output_format else None
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if chosen_url is None:
        current = str(stored.get("base_url") or config.DEFAULT_BASE_URL)
        chosen_url = typer.prompt("Base URL", default=current) if interactive else current
    if chosen_key is None:
        current_key = stored.get("api_key") or None
        if interactive:
            shown = f" [{_mask(current_key)}]" if current_key else ""
            typed = typer.prompt(f"API key{shown}", default="", show_default=False, hide_input=True)
            chosen_key = typed.strip() or current_key
        else:
            chosen_key = current_key
    if chosen_format is None:
        current_format = str(stored.get("output_format") or config.DEFAULT_OUTPUT_FORMAT)
        if interactive:
            chosen_format = typer.prompt(
                f"Output format ({'|'.join(config.OUTPUT_FORMATS)})", default=current_format
            ).strip()
        else:
            chosen_format = current_format
    if chosen_format not in config.OUTPUT_FORMATS:
        raise UsageFailure(f"The output format must be one of {', '.join(config.OUTPUT_FORMATS)}.")
    path = config.write_config_file(
        base_url=config.normalize_base_url(chosen_url),
        api_key=str(chosen_key).strip() if chosen_key else None,
        output_format=chosen_format,
    )
    output.write(f"Saved {path}")
    output.write(f"  base URL: {config.normalize_base_url(chosen_url)}")
    output.write(f"  API key:  {_mask(chosen_key) if chosen_key else '(none)'}")
    output.write(f"  output:   {chosen_format}")


def _mask(key: Any) -> str:
    text = str(key)
    return text[:8] + "…" if len(text) > 8 else "…"


# --- apply -----------------------------------------------------------------------------------


FilenamesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filename",
        "-f",
        metavar="FILE|DIR|-",
        help="A manifest file, a directory of them, or - for standard input. Repeatable.",
        show_default=False,
    ),
]
RecursiveOption = Annotated[bool, typer.Option("--recursive", "-R", help="Also read subdirectories.")]


@app.command()
@reported
def apply(
    ctx: typer.Context,
    filenames: FilenamesOption = None,
    recursive: RecursiveOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change (a diff, and what it takes away); change nothing.")
    ] = False,
) -> None:
    """Create or update the resources of one or many manifests (YAML, several per file allowed).

    A manifest is the whole desired state: what it omits takes its default (a chatbot manifest
    without `deployed: true` undeploys it). `--dry-run` shows the change first.

    Manifests are applied in dependency order whatever the files' order: Account, User, Secret,
    ApiKey, Provider, SqlConnection, ApiConnection, KnowledgeBase, plugins, Chatbot, then other
    kinds. One line per manifest says `created`, `updated` or `unchanged`; the exit code is 1 if
    any failed. A new API key is printed once: store it then.

    **Examples:** `smarter apply -f manifests/` · `smarter apply -f secret.yaml -f plugin.yaml` ·
    `cat chatbot.yaml | smarter apply -f -` · `smarter apply --dry-run -f chatbot.yaml`
    """
    _apply_all(ctx, filenames, recursive=recursive, dry_run=dry_run)


@app.command()
@reported
def diff(
    ctx: typer.Context,
    filenames: FilenamesOption = None,
    recursive: RecursiveOption = False,
) -> None:
    """What applying these manifests would change, as unified diffs of each resource as describe
    shows it now and after; nothing is changed (the same as `smarter apply --dry-run`).

    Lines starting with `!` name what a change takes away (a chatbot taken offline, plugins
    dropped). The exit code is 1 if any manifest is refused.

    **Examples:** `smarter diff -f chatbot.yaml` · `smarter diff -f manifests/`
    """
    _apply_all(ctx, filenames, recursive=recursive, dry_run=True)


def _apply_all(ctx: typer.Context, filenames: list[str] | None, *, recursive: bool, dry_run: bool) -> None:
    if not filenames:
        raise UsageFailure("Say what to apply: -f FILE, -f DIR or -f - for standard input.")
    documents = in_dependency_order(load_documents(filenames, recursive=recursive))
    failures = 0
    with _client(ctx) as client:
        for document in documents:
            try:
                envelope = client.apply(document.to_yaml(), dry_run=dry_run)
            except ServerRefused as refusal:
                failures += 1
                output.write_error(f"{_document_label(document)} failed: {refusal.message}")
                for line in field_lines(refusal.problems):
                    output.write_error(line)
                continue
            data = envelope.data if isinstance(envelope.data, dict) else {}
            label = f"{envelope.thing or document.kind}/{_applied_name(data) or document.name}"
            if dry_run:
                _write_preview(label, data)
                continue
            output.write(f"{label} {data.get('applied', 'applied')}")
            if data.get("apiKey"):
                output.write(f"  apiKey: {data['apiKey']}")
                output.write(f"  {data.get('note') or 'Store this key now: it is not shown again.'}")
    if failures:
        output.write_error(f"{failures} of {len(documents)} manifests failed.")
        raise typer.Exit(EXIT_REFUSED)


_WOULD = {"create": "would be created", "update": "would be updated", "unchanged": "unchanged"}


def _write_preview(label: str, data: dict[str, Any]) -> None:
    output.write(f"{label} {_WOULD.get(str(data.get('action')), str(data.get('action')))}")
    for warning in data.get("warnings") or []:
        output.write(f"  ! {warning}")
    if data.get("diff"):
        output.write(str(data["diff"]))


def _applied_name(data: dict[str, Any]) -> str | None:
    """The name as the server stored it, from the manifest the apply answer carries."""
    applied = data.get("manifest")
    metadata = applied.get("metadata") if isinstance(applied, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if name else None


def _document_label(document: Document) -> str:
    if document.kind == "?" or document.name == "?":
        return f"{document.label} ({document.source}, document {document.position})"
    return str(document.label)


# --- reading and deleting --------------------------------------------------------------------


@app.command()
@reported
def get(
    ctx: typer.Context,
    kind: KindArgument,
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="Only this resource.", show_default=False)] = None,
    output_format: Annotated[
        ListFormat | None, typer.Option("--output", "-o", help="table (default), json or yaml.")
    ] = None,
) -> None:
    """List the resources of a kind in your account, or one of them.

    The table fits the terminal; `-o json` and `-o yaml` print the list of items for scripts.

    **Examples:** `smarter get secrets` · `smarter get apikey ci_pipeline -o yaml`
    """
    settings = _settings(ctx)
    chosen = output_format.value if output_format else settings.output_format
    with _client(ctx) as client:
        envelope = client.cli("get", kind, name=name)
    data = envelope.data if isinstance(envelope.data, dict) else {}
    items = data.get("items") or []
    if chosen == "table":
        output.print_table(data.get("titles") or [], items, thing=_things(envelope.thing or kind))
    else:
        output.print_document(items, chosen)


def _things(kind: str) -> str:
    return f"{kind} resources"


def _document_format(chosen: DocumentFormat | None, settings: config.Settings) -> str:
    if chosen is not None:
        return chosen.value
    return "json" if settings.output_format == "json" else "yaml"


@app.command()
@reported
def describe(
    ctx: typer.Context,
    kind: KindArgument,
    name: NameArgument,
    output_format: Annotated[
        DocumentFormat | None, typer.Option("--output", "-o", help="yaml (default) or json.")
    ] = None,
) -> None:
    """Print a resource's full manifest, with its read-only `status`.

    The output applies as is (status is ignored by apply), so describe, edit, apply is a way to
    change a resource. Secret values are never shown.

    **Example:** `smarter describe chatbot support > support.yaml`
    """
    settings = _settings(ctx)
    with _client(ctx) as client:
        envelope = client.cli("describe", kind, name=name)
    output.print_document(envelope.data, _document_format(output_format, settings))


@app.command()
@reported
def delete(ctx: typer.Context, kind: KindArgument, name: NameArgument) -> None:
    """Delete a resource of your account.

    **Example:** `smarter delete secret crm_api_token`
    """
    with _client(ctx) as client:
        envelope = client.cli("delete", kind, name=name)
    output.write(f"{envelope.thing or kind}/{name} deleted")


@app.command()
@reported
def manifest(
    ctx: typer.Context,
    kind: KindArgument,
    output_format: Annotated[
        DocumentFormat | None, typer.Option("--output", "-o", help="yaml (default) or json.")
    ] = None,
) -> None:
    """Print an example manifest of a kind, ready to edit and apply.

    **Example:** `smarter manifest secret > secret.yaml && smarter apply -f secret.yaml`
    """
    with _client(ctx) as client:
        envelope = client.cli("example_manifest", kind)
    output.print_document(envelope.data, output_format.value if output_format else "yaml")


@app.command()
@reported
def schema(
    ctx: typer.Context,
    kind: KindArgument,
    output_format: Annotated[
        DocumentFormat | None, typer.Option("--output", "-o", help="json (default) or yaml.")
    ] = None,
) -> None:
    """Print the JSON Schema of a kind's manifest (for editors and validators).

    **Example:** `smarter schema plugin > plugin.schema.json`
    """
    with _client(ctx) as client:
        envelope = client.cli("schema", kind)
    output.print_document(envelope.data, output_format.value if output_format else "json")


# --- chatbots --------------------------------------------------------------------------------


def _chatbot_kind(kind: str) -> None:
    if kind.strip().lower() not in ("chatbot", "chatbots"):
        raise UsageFailure(f"Only chatbots are deployed, not {kind!r}: smarter deploy chatbot NAME.")


def _deployment(ctx: typer.Context, kind: str, name: str, *, deploy: bool, wait: bool, timeout: float) -> None:
    _chatbot_kind(kind)
    verb = "deploy" if deploy else "undeploy"
    with _client(ctx) as client:
        client.cli(verb, "chatbot", name=name)
        if not wait:
            output.write(f"Chatbot/{name} {verb} requested")
            return
        interval = _poll_interval()
        status = wait_for_deployment(
            client, name, want_deployed=deploy, timeout=timeout, interval=interval, console=output.error_console()
        )
    if not deploy:
        output.write(f"Chatbot/{name} undeployed")
        return
    url = status.get("customUrl") or status.get("defaultUrl")
    output.write(f"Chatbot/{name} deployed" + (f": {url}" if url else ""))


def _poll_interval(default: float = 2.0) -> float:
    value = os.environ.get("SMARTER_CLI_POLL_SECONDS") or str(default)
    try:
        return max(float(value), 0.01)
    except ValueError:
        raise UsageFailure(f"SMARTER_CLI_POLL_SECONDS must be a number of seconds, not {value!r}.") from None


WaitOption = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the change has settled.")]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", metavar="SECONDS", help="Give up waiting after this long (exit 1).", min=1),
]


@app.command()
@reported
def deploy(
    ctx: typer.Context,
    kind: KindArgument,
    name: NameArgument,
    wait: WaitOption = True,
    timeout: TimeoutOption = 300.0,
) -> None:
    """Deploy a chatbot to its own host name and wait until it answers there.

    A spinner shows progress while DNS verification runs; the URL is printed at the end.

    **Example:** `smarter deploy chatbot support --timeout 120`
    """
    _deployment(ctx, kind, name, deploy=True, wait=wait, timeout=timeout)


@app.command()
@reported
def undeploy(
    ctx: typer.Context,
    kind: KindArgument,
    name: NameArgument,
    wait: WaitOption = True,
    timeout: TimeoutOption = 300.0,
) -> None:
    """Take a deployed chatbot off its host names (its resources are kept).

    **Example:** `smarter undeploy chatbot support`
    """
    _deployment(ctx, kind, name, deploy=False, wait=wait, timeout=timeout)


@app.command()
@reported
def logs(
    ctx: typer.Context,
    kind: KindArgument,
    name: NameArgument,
    output_format: Annotated[
        ListFormat | None, typer.Option("--output", "-o", help="table (default), json or yaml.")
    ] = None,
) -> None:
    """Print the recent turns of a chatbot, or of one chat (its session key), oldest first.

    The table has one line per turn: time, session, turn number, the prompt and the start of
    the answer, the tools called, total tokens and cost in USD. `-o json` and `-o yaml` print
    everything the server keeps (full answers, tool arguments, latency, the selected plugins).

    **Examples:** `smarter logs chatbot support` · `smarter logs chat SESSION_KEY -o yaml`
    """
    settings = _settings(ctx)
    chosen = output_format.value if output_format else settings.output_format
    with _client(ctx) as client:
        envelope = client.cli("logs", kind, name=name)
    data = envelope.data
    if chosen == "table" and isinstance(data, dict) and isinstance(data.get("turns"), list):
        # A chat's turns are all of one session: the column would repeat the name given.
        output.print_turns(data["turns"], with_session="chat" not in data)
    else:
        output.print_document(data, "json" if chosen == "json" else "yaml")


@app.command()
@reported
def chat(
    ctx: typer.Context,
    chatbot: Annotated[str, typer.Argument(metavar="CHATBOT", help="Name of the chatbot.", show_default=False)],
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", "-p", metavar="TEXT", help="Send this one prompt, print the reply and exit."),
    ] = None,
    new_session: Annotated[bool, typer.Option("--new", help="Start a new session instead of continuing.")] = False,
) -> None:
    """Chat with a chatbot; the reply streams as it is written, tool calls shown dimmed.

    The session continues across runs (kept in `~/.smarter/sessions.yaml`). In the
    conversation, `/new` starts a new session and `/exit` or Ctrl-D quits.

    **Examples:** `smarter chat support` · `smarter chat support -p "What is on sale today?"`
    """
    with _client(ctx) as client:
        if prompt is not None:
            if not prompt.strip():
                raise UsageFailure("The prompt is empty.")
            chat_module.one_turn(client, chatbot, prompt, new_session=new_session)
            return
        code = chat_module.conversation(client, chatbot, new_session=new_session)
    if code:
        raise typer.Exit(code)


# --- knowledge bases -------------------------------------------------------------------------

KnowledgeBaseArgument = Annotated[
    str, typer.Argument(metavar="KB", help="Name of the knowledge base.", show_default=False)
]


@app.command()
@reported
def upload(
    ctx: typer.Context,
    knowledge_base: KnowledgeBaseArgument,
    files: Annotated[
        list[str] | None,
        typer.Argument(metavar="FILE", help="Files to add: txt, md, html, pdf or docx.", show_default=False),
    ] = None,
    text_name: Annotated[
        str | None,
        typer.Option("--text", metavar="NAME", help="Also add standard input as a text document of this name."),
    ] = None,
    urls: Annotated[
        list[str] | None,
        typer.Option("--url", metavar="URL", help="Also add the page at this URL (the server fetches it). Repeatable."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until every document is ready or failed.")
    ] = True,
    timeout: TimeoutOption = 300.0,
) -> None:
    """Add documents to a knowledge base and wait until they are ingested.

    A progress bar follows the bytes sent, then the documents becoming ready; a table of name,
    status, chunks and error follows. Exit 0 when every document is ready, 1 when one failed, was
    refused or is not ready in time. The same content uploaded twice is one document.

    **Examples:** `smarter upload manual docs/manual.pdf docs/faq.md` ·
    `git log | smarter upload changes --text changelog.txt` ·
    `smarter upload manual --url https://example.com/guide.html --no-wait`
    """
    sources = knowledge.file_sources(files or [])
    if text_name is not None:
        if sys.stdin.isatty():
            raise UsageFailure(f"--text {text_name} reads the document from standard input: pipe or redirect it.")
        sources.append(knowledge.text_source(text_name, sys.stdin.read()))
    sources.extend(knowledge.url_source(url) for url in urls or [])
    if not sources:
        raise UsageFailure("Say what to upload: FILE..., --text NAME (standard input) or --url URL.")
    interval = _poll_interval(default=1.0)
    with _client(ctx) as client:
        all_ready = knowledge.upload(client, knowledge_base, sources, wait=wait, timeout=timeout, interval=interval)
    if not all_ready:
        raise typer.Exit(EXIT_REFUSED)


@app.command()
@reported
def search(
    ctx: typer.Context,
    knowledge_base: KnowledgeBaseArgument,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.", show_default=False)],
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", metavar="N", min=1, help="How many chunks (default: the knowledge base's topK)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON, for scripts.")] = False,
) -> None:
    """Search a knowledge base as its plugin does: the best chunks with their scores.

    One line per chunk, best first: document, chunk number, score and the start of its text.

    **Example:** `smarter search manual "How do I reset the device?" --top-k 3`
    """
    if not query.strip():
        raise UsageFailure("The query is empty.")
    with _client(ctx) as client:
        results = client.search(knowledge_base, query=query, top_k=top_k)
    if as_json:
        output.write(output.as_json(results))
    else:
        output.print_hits(results)


# --- evaluation suites ---------------------------------------------------------------------


@app.command(name="eval")
@reported
def eval_(
    ctx: typer.Context,
    suite: Annotated[str, typer.Argument(metavar="SUITE", help="Name of the TestSuite.", show_default=False)],
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the run has finished, then print its results.")
    ] = False,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            metavar="RATE",
            min=0,
            max=1,
            help="Exit 1 when the pass rate is below RATE (0 to 1); replaces the suite's threshold for the exit code.",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", metavar="MODEL", help="Ask this model instead of the chatbot's.")
    ] = None,
    chatbot_version: Annotated[
        int | None,
        typer.Option("--chatbot-version", metavar="N", min=1, help="Run against this version of the chatbot."),
    ] = None,
    repeat: Annotated[
        int | None,
        typer.Option("--repeat", metavar="K", min=1, max=10, help="Ask each case K times (a case passes if all do)."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", metavar="T", min=0, max=2, help="Sampling temperature, 0 to 2.")
    ] = None,
    run_id: Annotated[
        int | None,
        typer.Option("--run", metavar="ID", min=1, help="Report this run of the suite instead of starting one."),
    ] = None,
    compare: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--compare",
            metavar="BASE HEAD",
            help="Compare two runs case by case; exit 1 when a case that passed in BASE does not in HEAD.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run (or comparison) as JSON, for scripts.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long (exit 1).")
    ] = 1800.0,
) -> None:
    """Run a chatbot's test suite and gate on its result: a table of every case, the pass rate.

    Without `--wait` the run is started and its id printed (unless it has already finished).
    Exit 0 when the run passed (with `--fail-under`: when its pass rate reaches RATE), 1 when it
    did not or was cancelled, 2 when a case errored (the platform could not ask or score it),
    3 when the server cannot be reached. `--compare BASE HEAD` prints two runs side by side.

    **Examples:** `smarter eval support_golden --wait --fail-under 0.8` ·
    `smarter eval support_golden --wait --model gpt-4o --repeat 3` ·
    `smarter eval support_golden --compare 12 15`
    """
    options = evaluation.RunOptions(
        chatbot_version=chatbot_version, model=model, temperature=temperature, repeat=repeat
    )
    if compare is not None:
        extra = [
            *options.given,
            *(["--run"] if run_id is not None else []),
            *(["--fail-under"] if fail_under is not None else []),
            *(["--wait"] if wait else []),
        ]
        if extra:
            raise UsageFailure(f"--compare reads two runs already made: it takes no {', '.join(extra)}.")
        with _client(ctx) as client:
            comparison = client.compare_runs(suite, *compare)
        if as_json:
            output.write(output.as_json(comparison))
        else:
            evaluation.print_comparison(suite, comparison)
        regressions = comparison.get("regressions") or []
        if regressions:
            output.write_error(f"{len(regressions)} of {len(comparison.get('cases') or [])} cases regressed.")
            raise typer.Exit(EXIT_REFUSED)
        return
    if run_id is not None and options.given:
        raise UsageFailure(f"--run reads a run already started: it takes no {', '.join(options.given)}.")
    if model is not None and not model.strip():
        raise UsageFailure("--model needs a model name.")
    with _client(ctx) as client:
        run = client.eval_run(suite, run_id) if run_id is not None else client.start_run(suite, options.body())
        if not evaluation.finished(run) and not wait:
            if as_json:
                output.write(output.as_json(run))
            else:
                output.write(f"Run {run.get('id')} of {suite} {run.get('status')}.")
                output.write(f"Follow it with: smarter eval {suite} --run {run.get('id')} --wait")
            return
        timed_out = False
        if wait and not evaluation.finished(run):
            interval = _poll_interval(default=2.0)
            run, settled = evaluation.wait_until_finished(
                client, suite, run, timeout=timeout, interval=interval, console=output.error_console()
            )
            timed_out = not settled
        if "results" not in run:
            run = client.eval_run(suite, int(run["id"]))
    if timed_out:
        if as_json:
            output.write(output.as_json(run))
        output.write_error(
            f"Run {run.get('id')} of {suite} has not finished after {timeout:g} s ({run.get('status')}); it goes on: "
            f"smarter eval {suite} --run {run.get('id')} --wait"
        )
        raise typer.Exit(EXIT_REFUSED)
    verdict = evaluation.verdict(run, fail_under)
    if as_json:
        output.write(output.as_json(run))
    else:
        evaluation.print_run(suite, run, fail_under)
    if verdict.reason:
        output.write_error(verdict.reason)
    if verdict.exit_code:
        raise typer.Exit(verdict.exit_code)


# --- about the server ------------------------------------------------------------------------


@app.command()
@reported
def whoami(
    ctx: typer.Context,
    output_format: Annotated[
        DocumentFormat | None, typer.Option("--output", "-o", help="yaml (default) or json.")
    ] = None,
) -> None:
    """Show who the API key belongs to: username, account number and role.

    **Example:** `smarter whoami`
    """
    settings = _settings(ctx)
    with _client(ctx) as client:
        envelope = client.cli("whoami")
    output.print_document(envelope.data, _document_format(output_format, settings))


@app.command()
@reported
def status(
    ctx: typer.Context,
    output_format: Annotated[
        DocumentFormat | None, typer.Option("--output", "-o", help="yaml (default) or json.")
    ] = None,
) -> None:
    """Show the health of the server's backing services; exit 1 if one is down.

    **Example:** `smarter status -o json`
    """
    settings = _settings(ctx)
    with _client(ctx) as client:
        envelope = client.cli("status")
    output.print_document(envelope.data, _document_format(output_format, settings))
    if isinstance(envelope.data, dict) and envelope.data.get("healthy") is False:
        raise typer.Exit(EXIT_REFUSED)


@app.command()
@reported
def version(
    ctx: typer.Context,
    client_only: Annotated[bool, typer.Option("--client", help="Only the client's version; no request.")] = False,
    output_format: Annotated[
        DocumentFormat | None, typer.Option("--output", "-o", help="yaml (default) or json.")
    ] = None,
) -> None:
    """Show the versions of this client and of the server.

    **Example:** `smarter version`
    """
    settings = _settings(ctx)
    versions: dict[str, Any] = {"client": client_version()}
    if not client_only:
        with _client(ctx) as client:
            data = client.cli("version").data
        if isinstance(data, dict):
            versions["server"] = data.get("version")
            versions["apiVersion"] = data.get("apiVersion")
    output.print_document(versions, _document_format(output_format, settings))


# --- entry point -----------------------------------------------------------------------------


GLOBAL_OPTIONS = ("--base-url", "--api-key")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Accept `--base-url`/`--api-key` after the verb too (`smarter get secrets --api-key K`).

    They belong to the top-level command, where Typer only looks before the verb; moving them
    there lets people write them anywhere, as with kubectl. Scanning stops at `--`.
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            rest.extend(argv[index:])
            break
        if word in GLOBAL_OPTIONS and index + 1 < len(argv):
            front.extend(argv[index : index + 2])
            index += 2
            continue
        if word.startswith(tuple(f"{name}=" for name in GLOBAL_OPTIONS)):
            front.append(word)
        else:
            rest.append(word)
        index += 1
    return front + rest


def run(argv: list[str] | None = None) -> int:
    """The console script: run one command and return its exit code.

    Typer reports usage errors itself (exit 2); each verb reports its own failures (see
    `reported`), so nothing here prints a traceback for an expected failure.
    """
    try:
        app(args=hoist_global_options(sys.argv[1:] if argv is None else argv), prog_name="smarter")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BrokenPipeError:
        # The reader went away (`smarter get … | head`): nothing is wrong, stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return 0
