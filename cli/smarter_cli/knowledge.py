"""Documents into a knowledge base, and searching it: what `smarter upload` and `smarter search` do.

An upload sends each source on its own (a file as multipart `file`, text and URLs as JSON), then
polls each document until it is `ready` or `failed`: the server answers the upload at once
(202, `queued`) and ingests in the background. Every source is checked before the first request,
so a missing or unreadable file changes nothing on the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from smarter_cli import output
from smarter_cli.client import SmarterClient
from smarter_cli.errors import ServerRefused, UsageFailure
from smarter_cli.output import progress_bar

SETTLED = ("ready", "failed")
# Refusals about one source (bad type, too large, invalid body): the next sources are still sent.
# Any other refusal (no such knowledge base, bad key, rate limit, server error) would refuse the
# next ones too, so it stops the run.
REFUSALS_OF_ONE_SOURCE = {400, 409, 413, 415, 422}
TABLE_TITLES = [{"name": "name"}, {"name": "status"}, {"name": "chunks"}, {"name": "error"}]


@dataclass
class Source:
    """One document to add: a file on disk, text read from standard input, or a URL."""

    label: str
    path: Path | None = None
    size: int = 0
    body: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    """A source's line of the final table, kept up to date while its document is ingested."""

    name: str
    status: str
    document_id: str | None = None
    chunks: int | None = None
    error: str = ""
    progress: int = 0  # percent of its ingestion done, as the server reports it
    # The upload's answer has no chunks: a document already ready (the same content sent
    # before) is still read once for them.
    read: bool = False

    @property
    def settled(self) -> bool:
        return self.document_id is None or (self.read and self.status in SETTLED)

    def update(self, document: dict[str, Any]) -> None:
        self.name = str(document.get("name") or self.name)
        self.status = str(document.get("status") or self.status)
        chunks = document.get("chunks")
        self.chunks = chunks if isinstance(chunks, int) else self.chunks
        self.error = str(document.get("error") or "")
        progress = document.get("progress")
        self.progress = min(max(progress, 0), 100) if isinstance(progress, int) else self.progress

    def as_item(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "chunks": self.chunks, "error": self.error}


def file_sources(names: list[str]) -> list[Source]:
    """The files named, each checked to exist and be readable before anything is sent."""
    sources = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            raise UsageFailure(f"{name} is a directory: name the files to upload.")
        try:
            with path.open("rb"):
                size = path.stat().st_size
        except FileNotFoundError:
            raise UsageFailure(f"{name}: no such file.") from None
        except OSError as error:
            raise UsageFailure(f"Cannot read {name}: {error.strerror}.") from None
        sources.append(Source(label=path.name, path=path, size=size))
    return sources


def text_source(name: str, text: str) -> Source:
    if not name.strip():
        raise UsageFailure("--text needs the document's name, e.g. --text notes.md.")
    if not text.strip():
        raise UsageFailure(f"Standard input is empty: nothing to upload as {name}.")
    return Source(label=name, size=len(text.encode("utf-8")), body={"name": name, "text": text})


def url_source(url: str) -> Source:
    if not url.startswith(("http://", "https://")):
        raise UsageFailure(f"--url needs an http:// or https:// URL, not {url!r}.")
    return Source(label=url, body={"url": url})


# --- upload ----------------------------------------------------------------------------------


def upload(
    client: SmarterClient,
    knowledge_base: str,
    sources: list[Source],
    *,
    wait: bool,
    timeout: float,
    interval: float,
) -> bool:
    """Send every source, wait for their documents unless told not to, print the table.

    True when every document is ready (or, without waiting, every source was accepted).
    """
    console = output.error_console()
    rows = send_all(client, knowledge_base, sources, console=console)
    timed_out = False
    if wait:
        timed_out = not wait_until_settled(
            client, knowledge_base, rows, timeout=timeout, interval=interval, console=console
        )
    output.print_table(TABLE_TITLES, [row.as_item() for row in rows], thing="documents")
    return report(knowledge_base, rows, waited=wait, timed_out=timed_out, timeout=timeout)


def send_all(client: SmarterClient, knowledge_base: str, sources: list[Source], *, console: Console) -> list[Row]:
    rows = []
    with progress_bar(console, DownloadColumn(), TransferSpeedColumn()) as progress:
        task = progress.add_task("Uploading", total=sum(source.size for source in sources) or None)
        sent_before = 0
        for source in sources:
            progress.update(task, description=f"Uploading {source.label}")
            rows.append(send_one(client, knowledge_base, source, on_sent=sent_reporter(progress, task, sent_before)))
            sent_before += source.size
            progress.update(task, completed=sent_before)
    return rows


def sent_reporter(progress: Progress, task: TaskID, sent_before: int) -> Callable[[int], None]:
    def on_sent(position: int) -> None:
        progress.update(task, completed=sent_before + position)

    return on_sent


def send_one(client: SmarterClient, knowledge_base: str, source: Source, *, on_sent: Callable[[int], None]) -> Row:
    try:
        if source.path is not None:
            answer = client.upload_document(knowledge_base, source.path, on_sent=on_sent)
        else:
            answer = client.add_document(knowledge_base, source.body)
    except ServerRefused as refusal:
        if refusal.status not in REFUSALS_OF_ONE_SOURCE:
            raise
        problems = "; ".join(f"{problem.loc}: {problem.msg}" for problem in refusal.problems)
        return Row(name=source.label, status="refused", error=f"{refusal.message} {problems}".strip())
    document_id = answer.get("id")
    row = Row(name=source.label, status="queued", document_id=str(document_id) if document_id is not None else None)
    row.update(answer)
    return row


def wait_until_settled(
    client: SmarterClient,
    knowledge_base: str,
    rows: list[Row],
    *,
    timeout: float,
    interval: float,
    console: Console,
) -> bool:
    """Poll each document until it is ready or failed; False when the time ran out first."""
    deadline = time.monotonic() + timeout
    with progress_bar(console, MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        task = progress.add_task("Ingesting", total=len(rows))
        while True:
            # The same content twice is one document: each is asked about once per round.
            pending: dict[str, list[Row]] = {}
            for row in rows:
                if not row.settled and row.document_id is not None:
                    pending.setdefault(row.document_id, []).append(row)
            for document_id, waiting in pending.items():
                document = client.document(knowledge_base, document_id)
                for row in waiting:
                    row.update(document)
                    row.read = True
            settled = sum(1 for row in rows if row.settled)
            ready = sum(1 for row in rows if row.status == "ready")
            # The bar moves with each document's own progress; the count only with settled ones.
            partly = sum(row.progress / 100 for row in rows if not row.settled)
            progress.update(task, completed=settled + partly, description=f"Ingesting ({ready} ready)")
            if settled == len(rows):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)


def report(knowledge_base: str, rows: list[Row], *, waited: bool, timed_out: bool, timeout: float) -> bool:
    refused = sum(1 for row in rows if row.status == "refused")
    failed = sum(1 for row in rows if row.status == "failed")
    if refused:
        output.write_error(f"{refused} of {len(rows)} uploads refused.")
    if failed:
        output.write_error(f"{failed} of {len(rows)} documents failed.")
    if timed_out:
        waiting = sum(1 for row in rows if not row.settled)
        output.write_error(
            f"{waiting} of {len(rows)} documents not ready after {timeout:g} s; they may still finish: "
            f"`smarter describe knowledgebase {knowledge_base}`."
        )
    if not waited:
        return refused == 0
    return all(row.status == "ready" for row in rows)
