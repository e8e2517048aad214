"""The shell blocks of a page of the docs, as one script that runs them in order.

A page is followed the way a reader follows it: its blocks run one after the other in one shell,
so that a variable set by one block (`RUN=$(...)`) is there for the next, in one working folder,
so that a file written by one block is there for the next. What a reader substitutes, the
harness substitutes too: the port the platform is served on for the docs' `localhost:8000`, and
the demo account's number for the docs' example `1234-5678-9012`, and its API key for `smarter_...`.

- `bash` and `sh` blocks are commands: the block fails at the first command that fails
  (`set -e -o pipefail`), and `curl` fails on an HTTP error status, because a reader who sees an
  error envelope knows the command did not work.
- `console` blocks show commands (`$ ...`) and what they print. A command must exit 0, unless the
  block shows `$ echo $?` after it: then it must exit with the status shown.
- A YAML block whose first line names a file (`# support.yaml`) is what the page asks the
  reader to save under that name: the harness writes it there, at that point of the page.
- A block whose commands show an error on purpose says which on the line before its fence,
  `<!-- run: expects HTTP 403 -->`: its `curl` commands must answer that status.
- A block the harness cannot run says why on the line before its fence:
  `<!-- not run: the reason -->`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(bash|sh|console|yaml)\n(.*?)^```", re.DOTALL | re.MULTILINE)
SAVED_AS = re.compile(r"\A# ([\w.-]+\.(?:yaml|yml|json))(?: .*)?\n")
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]+?) -->\n\Z")
EXPECTS = re.compile(r"<!-- run: expects HTTP (?P<status>\d{3}) -->\n\Z")
DOCS_PORT = "localhost:8000"
DOCS_ACCOUNT = "1234-5678-9012"
DOCS_KEY = "smarter_..."

# Before the page's blocks: fail fast, and let curl fail on HTTP errors (its body still printed).
FAIL_ON_ERRORS = 'curl() { command curl --fail-with-body "$@"; }\n'
PRELUDE = "set -e -o pipefail\n" + FAIL_ON_ERRORS
# In a block that shows an error on purpose: curl succeeds only with that status.
EXPECTING = """curl() {{
  local body status
  body=$(mktemp)
  status=$(command curl --output "$body" --write-out '%{{http_code}}' "$@")
  cat "$body"; rm -f "$body"
  [ "$status" = {status} ] || {{ echo "HTTP $status, the docs show {status}" >&2; return 1; }}
}}
"""


@dataclass(frozen=True)
class Block:
    where: str  # path:line of the fence
    language: str
    text: str
    not_run: str | None  # the reason given, for a block the harness does not run
    expects: int | None = None  # the HTTP status its curl commands answer, when not a success


def blocks_of(document: Path, root: Path) -> list[Block]:
    text = document.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) == "yaml" and not SAVED_AS.match(match.group(2)):
            continue  # an example to read, not a file the page saves
        line = text[: match.start()].count("\n") + 1
        before = NOT_RUN.search(text[: match.start()])
        expects = EXPECTS.search(text[: match.start()])
        found.append(
            Block(
                where=f"{document.relative_to(root)}:{line}",
                language=match.group(1),
                text=match.group(2),
                not_run=before.group("reason").strip() if before else None,
                expects=int(expects.group("status")) if expects else None,
            )
        )
    return found


def console_commands(text: str) -> list[tuple[str, int]]:
    """The commands of a console block, each with the exit status the block shows for it."""
    commands: list[tuple[str, int]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("$ "):
            continue  # what the previous command printed
        command = line[2:]
        while command.endswith("\\") and index < len(lines):
            command = command + "\n" + lines[index]
            index += 1
        if command.strip() == "echo $?":
            shown = lines[index].strip() if index < len(lines) else ""
            if commands and shown.isdigit():
                commands[-1] = (commands[-1][0], int(shown))
            index += 1
            continue
        commands.append((command, 0))
    return commands


def block_script(block: Block) -> str:
    """One block as bash, starting with a line that names it (a failure names the block)."""
    start = f"echo {shlex.quote('--- ' + block.where)} >&2\n"
    saved_as = SAVED_AS.match(block.text)
    if saved_as:
        return start + f"cat > {shlex.quote(saved_as.group(1))} <<'__SAVED__'\n{block.text}__SAVED__\n"
    if block.expects is not None:
        return start + EXPECTING.format(status=block.expects) + block.text + FAIL_ON_ERRORS
    if block.language != "console":
        return start + block.text
    steps = []
    for command, status in console_commands(block.text):
        steps.append(
            f"{{ {command}\n}} && __status=0 || __status=$?\n"
            f'if [ "$__status" -ne {status} ]; then printf "exit status %s, the docs show {status}: %s\\n" '
            f'"$__status" {shlex.quote(command)} >&2; exit 1; fi\n'
        )
    return start + "".join(steps)


def page_script(blocks: list[Block], *, port: int, account_number: str, api_key: str) -> str:
    body = "".join(block_script(block) + "\n" for block in blocks if block.not_run is None)
    body = body.replace(DOCS_PORT, f"localhost:{port}").replace(DOCS_ACCOUNT, account_number)
    body = body.replace(DOCS_KEY, api_key)
    return PRELUDE + body
