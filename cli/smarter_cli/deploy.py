"""Waiting for a chatbot's deployment to settle, with a spinner, for a bounded time.

`deploy` only asks for the deployment; the host name, its certificate and (for a custom
domain) DNS verification finish later. The client polls `describe` until `status.deployed`
says what was asked and `status.dnsVerificationStatus` is no longer in progress.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from smarter_cli.client import SmarterClient
from smarter_cli.errors import EXIT_REFUSED, CliFailure

# Words of a verification that has not finished yet; anything else is an outcome.
PENDING_WORDS = {"pending", "verifying", "requested", "in_progress", "in progress", "deploying", "waiting"}
FAILED_WORDS = {"failed", "failure", "error", "rejected", "timed_out", "timed out"}


class DeploymentFailed(CliFailure):
    exit_code = EXIT_REFUSED


def dns_state(status: dict[str, Any]) -> str:
    value = status.get("dnsVerificationStatus")
    return str(value).strip() if value not in (None, "") else ""


def settled(status: dict[str, Any], *, want_deployed: bool) -> bool:
    if bool(status.get("deployed")) != want_deployed:
        return False
    if not want_deployed:
        return True
    return dns_state(status).lower() not in PENDING_WORDS


def wait_for_deployment(
    client: SmarterClient,
    name: str,
    *,
    want_deployed: bool,
    timeout: float,
    interval: float,
    console: Console,
) -> dict[str, Any]:
    verb = "Deploying" if want_deployed else "Undeploying"
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    with console.status(f"{verb} chatbot {name}…") as spinner:
        while True:
            manifest = client.cli("describe", "chatbot", name=name).data
            found = manifest.get("status") if isinstance(manifest, dict) else None
            status = found if isinstance(found, dict) else {}
            dns = dns_state(status)
            if want_deployed and dns.lower() in FAILED_WORDS:
                raise DeploymentFailed(
                    f"Chatbot {name} did not deploy: DNS verification is {dns}. See `smarter describe chatbot {name}`."
                )
            if settled(status, want_deployed=want_deployed):
                return status
            if time.monotonic() >= deadline:
                wanted = "deployed" if want_deployed else "undeployed"
                deployed = "true" if status.get("deployed") else "false"
                raise DeploymentFailed(
                    f"Chatbot {name} is still not {wanted} after {timeout:g} s (deployed: {deployed}, "
                    f"DNS verification: {dns or 'none'}). It may finish later: "
                    f"`smarter describe chatbot {name}`."
                )
            detail = f", DNS verification: {dns}" if dns else ""
            spinner.update(f"{verb} chatbot {name}{detail}…")
            time.sleep(interval)
