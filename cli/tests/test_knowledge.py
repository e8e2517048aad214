"""upload and search against the knowledge stand-in: the client's side of the contract, exactly.

What the real server does with the documents (parsing, chunking, search quality) is tested
against the live server in `test_knowledge_live.py`; here the server's answers are known in
advance, so the output can be asserted line by line.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli, cli_command, cli_environment
from tests.knowledge_standin import FAILED_ERROR, KnowledgeStandIn
from tests.standin import API_KEY

FAST = {"SMARTER_CLI_POLL_SECONDS": "0.02"}
NOBODY = 65534


@pytest.fixture
def knowledge() -> Iterator[KnowledgeStandIn]:
    stand_in = KnowledgeStandIn()
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def run(run_cli: RunCli, knowledge: KnowledgeStandIn) -> RunCli:
    def run_against_stand_in(*args: str, **kwargs: str | None) -> object:
        kwargs.setdefault("SMARTER_BASE_URL", knowledge.url)
        kwargs.setdefault("SMARTER_API_KEY", API_KEY)
        for name, value in FAST.items():
            kwargs.setdefault(name, value)
        return run_cli(*args, **kwargs)

    return run_against_stand_in  # type: ignore[return-value]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    written = {
        "manual.md": "# Manual\n\nHold the power button.\n",
        "faq.txt": "Does it float?\nNo.",
        "locked.pdf": "%PDF-1.7 FAIL",
        "slow.txt": "SLOW",
        "setup.exe": "MZ",
    }
    for name, text in written.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in written}


def multipart_file(request: dict[str, object]) -> tuple[str, bytes]:
    """The filename and content of the `file` part of a recorded upload."""
    body = request["body"]
    assert isinstance(body, bytes)
    headers = request["headers"]
    assert isinstance(headers, dict)
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    head, _, rest = body.partition(b"\r\n\r\n")
    assert b'Content-Disposition: form-data; name="file"; filename="' in head
    filename = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
    content = rest.rsplit(b"\r\n--", 1)[0]
    return filename, content


# --- upload ------------------------------------------------------------------------------------


def test_upload_sends_each_file_waits_until_ready_and_prints_the_table(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path]
) -> None:
    result = run("upload", "manual", str(files["manual.md"]), str(files["faq.txt"]))

    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert result.out_lines == [
        "NAME        STATUS   CHUNKS   ERROR",
        "───────────────────────────────────",
        "manual.md   ready    4",
        "faq.txt     ready    2",
    ]
    uploads = [request for request in knowledge.requests if request["method"] == "POST"]
    assert [multipart_file(request) for request in uploads] == [
        ("manual.md", files["manual.md"].read_bytes()),
        ("faq.txt", files["faq.txt"].read_bytes()),
    ]
    assert all(request["headers"].get("Content-Length") for request in uploads)
    # Each document is read until it settles: twice each with settle_after = 2.
    assert knowledge.paths() == [
        "POST /api/v1/knowledge/manual/documents/",
        "POST /api/v1/knowledge/manual/documents/",
        "GET /api/v1/knowledge/manual/documents/1/",
        "GET /api/v1/knowledge/manual/documents/2/",
        "GET /api/v1/knowledge/manual/documents/1/",
        "GET /api/v1/knowledge/manual/documents/2/",
    ]


def test_a_failed_document_is_in_the_table_with_its_error_and_exits_1(run: RunCli, files: dict[str, Path]) -> None:
    result = run("upload", "manual", str(files["manual.md"]), str(files["locked.pdf"]))

    assert result.code == 1
    assert result.out_lines[2:] == [
        "manual.md    ready    4",
        f"locked.pdf   failed   0        {FAILED_ERROR}",
    ]
    assert result.stderr == "1 of 2 documents failed.\n"


def test_no_wait_prints_the_queued_documents_without_reading_them_again(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path]
) -> None:
    result = run("upload", "manual", str(files["manual.md"]), str(files["locked.pdf"]), "--no-wait")

    assert result.code == 0, result.stderr
    assert result.out_lines[2:] == ["manual.md    queued", "locked.pdf   queued"]
    assert knowledge.paths() == ["POST /api/v1/knowledge/manual/documents/"] * 2


def test_waiting_gives_up_after_the_timeout_and_exits_1(run: RunCli, files: dict[str, Path]) -> None:
    result = run("upload", "manual", str(files["manual.md"]), str(files["slow.txt"]), "--timeout", "1")

    assert result.code == 1
    assert result.out_lines[2:] == ["manual.md   ready        4", "slow.txt    processing   0"]
    assert result.stderr == (
        "1 of 2 documents not ready after 1 s; they may still finish: `smarter describe knowledgebase manual`.\n"
    )


def test_the_same_content_twice_is_one_document_read_once_per_round(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "copy.md"
    copy.write_bytes(files["manual.md"].read_bytes())

    result = run("upload", "manual", str(files["manual.md"]), str(copy))

    assert result.code == 0, result.stderr
    assert result.out_lines[2:] == ["manual.md   ready    4", "manual.md   ready    4"]
    assert knowledge.paths().count("GET /api/v1/knowledge/manual/documents/1/") == 2


def test_a_document_already_ready_is_read_once_for_its_chunks(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path]
) -> None:
    run("upload", "manual", str(files["faq.txt"]))
    knowledge.requests.clear()

    again = run("upload", "manual", str(files["faq.txt"]))

    assert again.code == 0, again.stderr
    assert again.out_lines[2:] == ["faq.txt   ready    2"]
    assert knowledge.paths() == [
        "POST /api/v1/knowledge/manual/documents/",
        "GET /api/v1/knowledge/manual/documents/1/",
    ]


def test_a_refused_file_is_reported_and_the_others_are_still_sent(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path]
) -> None:
    result = run("upload", "manual", str(files["setup.exe"]), str(files["faq.txt"]))

    assert result.code == 1
    assert result.out_lines[2:] == [
        "setup.exe   refused            setup.exe: this type of file cannot be ingested; use txt, md, html, pdf or docx.",
        "faq.txt     ready     2",
    ]
    assert result.stderr == "1 of 2 uploads refused.\n"
    assert knowledge.paths()[:2] == ["POST /api/v1/knowledge/manual/documents/"] * 2


def test_an_unknown_knowledge_base_stops_at_the_first_file(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path]
) -> None:
    result = run("upload", "handbook", str(files["manual.md"]), str(files["faq.txt"]))

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Error: KnowledgeBase 'handbook' was not found in your account.\n"
    assert knowledge.paths() == ["POST /api/v1/knowledge/handbook/documents/"]


def test_text_from_standard_input_and_urls_are_sent_as_json(run: RunCli, knowledge: KnowledgeStandIn) -> None:
    result = run(
        "upload",
        "manual",
        "--text",
        "notes.md",
        "--url",
        "https://example.com/guide.html",
        input="# Notes\nCharge it overnight.\n",
    )

    assert result.code == 0, result.stderr
    assert result.out_lines[2:] == ["notes.md     ready    3", "guide.html   ready    1"]
    uploads = [request for request in knowledge.requests if request["method"] == "POST"]
    assert [json.loads(request["body"]) for request in uploads] == [
        {"name": "notes.md", "text": "# Notes\nCharge it overnight.\n"},
        {"url": "https://example.com/guide.html"},
    ]
    assert all(request["headers"]["Content-Type"] == "application/json" for request in uploads)


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        ((), None, "Error: Say what to upload: FILE..., --text NAME (standard input) or --url URL."),
        (("--text", "notes.md"), "", "Error: Standard input is empty: nothing to upload as notes.md."),
        (
            ("--url", "file:///etc/passwd"),
            None,
            "Error: --url needs an http:// or https:// URL, not 'file:///etc/passwd'.",
        ),
    ],
    ids=["nothing", "empty-stdin", "not-http"],
)
def test_usage_errors_exit_2_and_send_nothing(
    run: RunCli, knowledge: KnowledgeStandIn, arguments: tuple[str, ...], stdin: str | None, message: str
) -> None:
    result = run("upload", "manual", *arguments, input=stdin)

    assert (result.code, result.stdout, result.stderr) == (2, "", message + "\n")
    assert knowledge.requests == []


def test_a_missing_file_exits_2_before_anything_is_sent(
    run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.pdf"

    result = run("upload", "manual", str(files["manual.md"]), str(missing))

    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"Error: {missing}: no such file.\n"
    assert knowledge.requests == []


def test_a_directory_exits_2(run: RunCli, knowledge: KnowledgeStandIn, files: dict[str, Path]) -> None:
    folder = files["manual.md"].parent

    result = run("upload", "manual", str(folder))

    assert (result.code, result.stderr) == (2, f"Error: {folder} is a directory: name the files to upload.\n")
    assert knowledge.requests == []


@contextmanager
def unprivileged() -> Iterator[None]:
    """File permissions as an ordinary user has them: root reads any file whatever its mode, so
    when the tests run as root the effective user is `nobody` for the while (and root again after)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


def test_an_unreadable_file_exits_2_before_anything_is_sent(run: RunCli, knowledge: KnowledgeStandIn) -> None:
    # Not under pytest's tmp_path: it is private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="smarter-cli-"))
    try:
        folder.chmod(0o755)
        readable, locked = folder / "manual.md", folder / "faq.txt"
        readable.write_text("# Manual\n")
        readable.chmod(0o644)
        locked.write_text("Does it float?\n")
        locked.chmod(0o000)

        with unprivileged():
            result = run("upload", "manual", str(readable), str(locked))
    finally:
        shutil.rmtree(folder)

    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"Error: Cannot read {locked}: Permission denied.\n"
    assert knowledge.requests == []


def test_an_unreachable_server_exits_3(run_cli: RunCli, files: dict[str, Path], closed_port: int) -> None:
    result = run_cli(
        "upload",
        "manual",
        str(files["manual.md"]),
        SMARTER_BASE_URL=f"http://127.0.0.1:{closed_port}",
        SMARTER_API_KEY=API_KEY,
    )

    assert (result.code, result.stdout) == (3, "")
    assert result.stderr == f"Error: Cannot reach the server at http://127.0.0.1:{closed_port}: Connection refused.\n"


# --- search ------------------------------------------------------------------------------------


def test_search_prints_document_chunk_score_and_the_start_of_the_text(run: RunCli, knowledge: KnowledgeStandIn) -> None:
    result = run("search", "manual", "how do I reset it?", COLUMNS="80")

    assert result.code == 0, result.stderr
    assert result.out_lines == [
        "DOCUMENT   CHUNK   SCORE  TEXT",
        "────────────────────────────────────────────────────────────────────────────────",
        "manual.md      3  0.9123  To reset the device, hold the power button for ten se…",
        "faq.txt        0  0.5000  Resetting keeps your settings.",
    ]
    assert all(len(line) <= 80 for line in result.out_lines)
    assert [json.loads(request["body"]) for request in knowledge.requests] == [{"query": "how do I reset it?"}]


def test_search_json_prints_the_results_as_the_server_gave_them(run: RunCli, knowledge: KnowledgeStandIn) -> None:
    result = run("search", "manual", "reset", "--top-k", "1", "--json")

    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == knowledge.hits[:1]
    assert json.loads(knowledge.requests[0]["body"]) == {"query": "reset", "topK": 1}


def test_a_search_without_results_says_so(run: RunCli, knowledge: KnowledgeStandIn) -> None:
    knowledge.hits = []

    result = run("search", "manual", "warranty")

    assert (result.code, result.stdout, result.stderr) == (0, "", "No results.\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(("manual", "  "), "The query is empty."), (("manual", "x", "--top-k", "0"), "--top-k")],
    ids=["empty-query", "top-k-0"],
)
def test_search_usage_errors_exit_2(
    run: RunCli, knowledge: KnowledgeStandIn, arguments: tuple[str, ...], message: str
) -> None:
    result = run("search", *arguments)

    assert result.code == 2
    assert message in result.stderr
    assert knowledge.requests == []


def test_search_of_an_unknown_knowledge_base_exits_1(run: RunCli) -> None:
    result = run("search", "handbook", "reset")

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Error: KnowledgeBase 'handbook' was not found in your account.\n"


def test_a_terminal_sees_the_bytes_sent_then_the_documents_becoming_ready(
    pexpect: Any, cli_home: Path, knowledge: KnowledgeStandIn, files: dict[str, Path]
) -> None:
    knowledge.settle_after = 8
    environment = cli_environment(
        cli_home,
        SMARTER_BASE_URL=knowledge.url,
        SMARTER_API_KEY=API_KEY,
        SMARTER_CLI_POLL_SECONDS="0.1",
        TERM="xterm-256color",
        # The client under test is the one these tests import.
        PYTHONPATH=os.environ.get("PYTHONPATH"),
    )
    command, *prefix = cli_command()
    child = pexpect.spawn(
        command,
        [*prefix, "upload", "manual", str(files["manual.md"]), str(files["faq.txt"])],
        env=environment,
        encoding="utf-8",
        timeout=15,
        dimensions=(40, 120),
    )

    child.expect_exact("Uploading")
    child.expect_exact("Ingesting (0 ready)")
    child.expect_exact("0/2")
    child.expect_exact("manual.md   ready    4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
