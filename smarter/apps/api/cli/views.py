"""The kubectl-like verbs of API.md. Each view parses, calls a broker and wraps the result."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from smarter import __version__
from smarter.apps.api.cli.base import CliView
from smarter.apps.api.openapi import cli_operation
from smarter.lib.errors import FieldError, ValidationFailed
from smarter.lib.health import check_backing_services
from smarter.lib.json_input import request_body
from smarter.lib.manifests import MAX_MANIFEST_BYTES, apply_preview, broker_for, load_manifest
from smarter.lib.manifests.envelope import API_VERSION
from smarter.lib.manifests.loader import check_content_type

DRY_RUN_PARAMETER = OpenApiParameter(
    "dryRun",
    OpenApiTypes.BOOL,
    description="true: validate and answer what would change (action, unified diff, the manifest after, "
    "warnings for what it takes away), writing nothing.",
)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise ValidationFailed(f"{name} must be true or false.", errors=[FieldError(name, "must be true or false")])
    return value in ("true", "1")


def _name_from(request: Request, path_name: str | None) -> str | None:
    return path_name or request.query_params.get("name") or None


def _required_name(request: Request, path_name: str | None, kind: str) -> str:
    name = _name_from(request, path_name)
    if not name:
        raise ValidationFailed(
            f"Say which {kind}: add ?name=<name> to the URL.",
            context={"kind": kind},
            errors=[FieldError("name", "required")],
        )
    return name


class ApplyView(CliView):
    command = "apply"
    http_method_names = ["post", "options"]

    @cli_operation(
        "Create or update the resource one manifest declares (idempotent, atomic)",
        body=True,
        parameters=[DRY_RUN_PARAMETER],
    )
    def post(self, request: Request) -> Response:
        check_content_type(request.content_type or "")
        document = load_manifest(request_body(request, max_bytes=MAX_MANIFEST_BYTES, what="manifest"))
        metadata = document.get("metadata")
        self.note(
            kind=str(document.get("kind", "")),
            name=str(metadata.get("name", "")) if isinstance(metadata, dict) else "",
        )
        if document.get("apiVersion") != API_VERSION:
            raise ValidationFailed(
                f"apiVersion must be {API_VERSION!r}.",
                errors=[FieldError("apiVersion", f"must be {API_VERSION}")],
            )
        if not isinstance(document.get("kind"), str):
            raise ValidationFailed("kind is required.", errors=[FieldError("kind", "required")])
        broker = broker_for(document["kind"])
        self.note(kind=broker.kind, name=self.journal_name)
        dry_run = _flag(request, "dryRun")
        if dry_run:
            self.command = "diff"  # the journal says it changed nothing
        manifest = broker.validate(document)
        if dry_run:
            return self.respond(broker.kind, apply_preview(broker, request.auth, manifest).as_data())
        # Atomic: a manifest that fails half-way leaves nothing behind.
        with transaction.atomic():
            outcome = broker.apply(request.auth, manifest)
        return self.respond(broker.kind, outcome.as_data())


class GetView(CliView):
    command = "get"

    @cli_operation("List resources of a kind (or one, by name)", with_name=True)
    def handle(self, request: Request, kind: str, name: str | None = None) -> Response:
        broker = broker_for(kind)
        name = _name_from(request, name)
        self.note(kind=broker.kind, name=name)
        return self.respond(broker.kind, broker.get(request.auth, name))

    get = post = handle


class DescribeView(CliView):
    command = "describe"

    @cli_operation("The full manifest of one resource, with status", with_name=True)
    def handle(self, request: Request, kind: str, name: str | None = None) -> Response:
        broker = broker_for(kind)
        name = _required_name(request, name, broker.kind)
        self.note(kind=broker.kind, name=name)
        return self.respond(broker.kind, broker.describe(request.auth, name))

    get = post = handle


class DeleteView(CliView):
    command = "delete"
    http_method_names = ["post", "delete", "options"]

    @cli_operation("Delete one resource", with_name=True)
    def handle(self, request: Request, kind: str, name: str | None = None) -> Response:
        broker = broker_for(kind)
        name = _required_name(request, name, broker.kind)
        self.note(kind=broker.kind, name=name)
        with transaction.atomic():
            broker.delete(request.auth, name)
        return self.respond(broker.kind, {"deleted": True, "name": name})

    post = delete = handle


class ExampleManifestView(CliView):
    command = "example_manifest"

    @cli_operation("An example manifest that applies as is")
    def handle(self, request: Request, kind: str) -> Response:
        broker = broker_for(kind)
        self.note(kind=broker.kind)
        return self.respond(broker.kind, broker.example())

    get = post = handle


class SchemaView(CliView):
    command = "schema"

    @cli_operation("The JSON Schema of the kind's manifest")
    def handle(self, request: Request, kind: str) -> Response:
        broker = broker_for(kind)
        self.note(kind=broker.kind)
        return self.respond(broker.kind, broker.schema())

    get = post = handle


class WhoAmIView(CliView):
    command = "whoami"

    @cli_operation("Who the key belongs to")
    def handle(self, request: Request) -> Response:
        caller = request.auth
        data: dict[str, Any] = {
            "username": caller.user.get_username(),
            "accountNumber": caller.account.account_number,
            "role": caller.role,
        }
        if caller.is_superuser:
            data["platformAdmin"] = True
        return self.respond("User", data)

    get = post = handle


class StatusView(CliView):
    command = "status"

    @cli_operation("Health of the backing services")
    def handle(self, request: Request) -> Response:
        report = check_backing_services()
        return self.respond("Status", {"healthy": report.healthy, "services": report.services})

    get = post = handle


class VersionView(CliView):
    command = "version"

    @cli_operation("Platform and API version")
    def handle(self, request: Request) -> Response:
        return self.respond("Version", {"version": __version__, "apiVersion": API_VERSION})

    get = post = handle
