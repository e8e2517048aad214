"""`/api/v1/cli/deploy/<kind>/?name=` and `undeploy`: serve a chatbot on its hosts, or stop.

Only `Chatbot` deploys; only an account admin may do it. The answer is the chatbot's manifest
with its status (hosts, URLs, DNS verification), as `describe` shows it.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response

from smarter.apps.api.cli.base import CliView
from smarter.apps.api.cli.views import _required_name
from smarter.apps.api.openapi import cli_operation
from smarter.apps.chatbot import selectors, services
from smarter.lib.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from smarter.lib.manifests import broker_for


class _DeploymentView(CliView):
    deploy = True

    def handle(self, request: Request, kind: str, name: str | None = None) -> Response:
        broker = broker_for(kind)
        name = _required_name(request, name, broker.kind)
        self.note(kind=broker.kind, name=name)
        if broker.kind != "Chatbot":
            raise ValidationFailed(
                f"Only a Chatbot can be {self.command}ed, not a {broker.kind}.",
                context={"kind": broker.kind, "name": name},
                errors=[FieldError("kind", "must be Chatbot")],
            )
        caller = request.auth
        chatbot = selectors.chatbot_get(account=caller.account, name=name)
        if chatbot is None:
            raise NotFound(
                f"Chatbot {name!r} was not found in your account.", context={"kind": "Chatbot", "name": name}
            )
        if not caller.is_admin:
            raise PermissionDenied(
                f"Only an account admin may {self.command} a chatbot.", context={"kind": "Chatbot", "name": name}
            )
        with transaction.atomic():
            if self.deploy:
                services.chatbot_deploy(chatbot=chatbot)
            else:
                services.chatbot_undeploy(chatbot=chatbot)
        return self.respond(broker.kind, broker.describe(caller, name))


class DeployView(_DeploymentView):
    command = "deploy"
    http_method_names = ["post", "options"]

    @cli_operation("Deploy a chatbot: it answers on its default host and verified custom domain", with_name=True)
    def post(self, request: Request, kind: str, name: str | None = None) -> Response:
        return self.handle(request, kind, name)


class UndeployView(_DeploymentView):
    command = "undeploy"
    deploy = False
    http_method_names = ["post", "options"]

    @cli_operation("Undeploy a chatbot: its hosts answer 404", with_name=True)
    def post(self, request: Request, kind: str, name: str | None = None) -> Response:
        return self.handle(request, kind, name)
