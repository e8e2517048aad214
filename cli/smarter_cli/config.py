"""Where the client finds its server and key, and where it keeps chat sessions.

Precedence, highest first: the `--base-url`/`--api-key` flags, the `SMARTER_BASE_URL` and
`SMARTER_API_KEY` environment variables, then `~/.smarter/config.yaml` (written by
`smarter configure`). Both files hold credentials or session keys, so they are created readable
by their owner only.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smarter_cli.errors import UsageFailure

DEFAULT_BASE_URL = "http://localhost:8000"
OUTPUT_FORMATS = ("table", "json", "yaml")
DEFAULT_OUTPUT_FORMAT = "table"


def config_dir() -> Path:
    # Resolved on each call, not at import: HOME decides, and tests point it elsewhere.
    return Path.home() / ".smarter"


def config_path() -> Path:
    return config_dir() / "config.yaml"


def sessions_path() -> Path:
    return config_dir() / "sessions.yaml"


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str | None
    output_format: str

    def require_api_key(self) -> str:
        if not self.api_key:
            raise UsageFailure(
                "No API key configured. Run `smarter configure`, set SMARTER_API_KEY, or pass --api-key."
            )
        return self.api_key


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsageFailure(f"Cannot read {path}: {error.strerror}.") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageFailure(f"{path} is not valid YAML ({error}); fix or delete it.") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UsageFailure(f"{path} must hold a mapping of settings; fix or delete it.")
    return loaded


def _write_yaml_private(path: Path, content: dict[str, Any]) -> None:
    """Replace the file in one step (a crash never leaves half a file) with mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yaml.safe_dump(content, stream, sort_keys=False, default_flow_style=False)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_config_file() -> dict[str, Any]:
    return _read_yaml_mapping(config_path())


def write_config_file(*, base_url: str, api_key: str | None, output_format: str) -> Path:
    content: dict[str, Any] = {"base_url": base_url, "api_key": api_key, "output_format": output_format}
    _write_yaml_private(config_path(), content)
    return config_path()


def normalize_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise UsageFailure(f"The base URL must start with http:// or https://, not {value!r}.")
    return value


def resolve(*, base_url_flag: str | None = None, api_key_flag: str | None = None) -> Settings:
    stored = read_config_file()
    base_url = base_url_flag or os.environ.get("SMARTER_BASE_URL") or stored.get("base_url") or DEFAULT_BASE_URL
    api_key = api_key_flag or os.environ.get("SMARTER_API_KEY") or stored.get("api_key") or None
    output_format = str(stored.get("output_format") or DEFAULT_OUTPUT_FORMAT)
    if output_format not in OUTPUT_FORMATS:
        output_format = DEFAULT_OUTPUT_FORMAT
    return Settings(
        base_url=normalize_base_url(str(base_url)),
        api_key=str(api_key).strip() if api_key else None,
        output_format=output_format,
    )


# --- chat sessions ---------------------------------------------------------------------------
# Kept per server and chatbot: the same chatbot name on another server is another conversation.


def load_session(base_url: str, chatbot: str) -> str | None:
    sessions = _read_yaml_mapping(sessions_path()).get("sessions") or {}
    per_server = sessions.get(base_url) if isinstance(sessions, dict) else None
    if not isinstance(per_server, dict):
        return None
    value = per_server.get(chatbot)
    return str(value) if value else None


def store_session(base_url: str, chatbot: str, session_key: str | None) -> None:
    content = _read_yaml_mapping(sessions_path())
    sessions = content.get("sessions")
    if not isinstance(sessions, dict):
        sessions = {}
    per_server = sessions.get(base_url)
    if not isinstance(per_server, dict):
        per_server = {}
    if session_key:
        per_server[chatbot] = session_key
    else:
        per_server.pop(chatbot, None)
    if per_server:
        sessions[base_url] = per_server
    else:
        sessions.pop(base_url, None)
    content["sessions"] = sessions
    _write_yaml_private(sessions_path(), content)
