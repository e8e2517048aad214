"""Log records go to standard error: a process that swapped its standard error for a while (a test
runner capturing output) and closed the swapped stream still gets every record afterwards, never
a "Logging error" traceback in its place; and a brief swap of `sys.stderr` (a command's output
captured by its caller) does not take the records with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Django configures logging while standard error is a capture; the capture ends and is closed;
# then something logs (as an unclosed connection does when it is collected at exit).
LATE_LOGGER = """
import io, logging, sys
import django
real, captured = sys.stderr, io.TextIOWrapper(io.BytesIO())
sys.stderr = captured
django.setup()
sys.stderr = real
captured.close()
logging.getLogger("late").warning("said after the capture ended")
"""


# Logging is configured on the real standard error; a caller captures `sys.stderr` for a moment.
SWAPPED_FOR_A_MOMENT = """
import contextlib, io, logging
import django
django.setup()
swapped = io.StringIO()
with contextlib.redirect_stderr(swapped):
    logging.getLogger("busy").warning("said while a caller captured sys.stderr")
print(repr(swapped.getvalue()))
"""


def run_late_logger(tmp_path: Path, log_format: str, script: str = LATE_LOGGER) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMARTER_")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "smarter.settings",
        "SMARTER_STATE_DIR": str(tmp_path),
        "SMARTER_LOG_FORMAT": log_format,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_record_logged_after_a_closed_capture_is_written_not_a_logging_error(tmp_path: Path) -> None:
    for log_format in ("text", "json"):
        result = run_late_logger(tmp_path, log_format)
        assert result.returncode == 0, result.stderr
        assert "Logging error" not in result.stderr
        assert "said after the capture ended" in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr  # the record's one line, nothing more


def test_a_record_logged_while_a_caller_captures_stderr_still_goes_to_the_logs(tmp_path: Path) -> None:
    result = run_late_logger(tmp_path, "text", SWAPPED_FOR_A_MOMENT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "''\n"  # nothing of the log in what the caller captured
    assert "said while a caller captured sys.stderr" in result.stderr
