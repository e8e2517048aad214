"""Deploy automation against local stand-ins: the official Kubernetes client talking to a recording
stand-in of the API server, and boto3 talking to moto's Route53 server."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, DomainStatus
from smarter.apps.chatbot.tasks import sync_chatbot_deployment_task
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest, deploy
from smarter.apps.chatbot.tests.servers import KubernetesStandIn
from smarter.celery import app as celery_app

pytestmark = pytest.mark.django_db

INGRESSES = "/apis/networking.k8s.io/v1/namespaces/chatbots/ingresses"


def expected_ingress(chatbot: Chatbot, hosts: list[str]) -> dict[str, Any]:
    name = f"smarter-chatbot-{chatbot.pk}"
    backend = {"service": {"name": "smarter-web", "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "chatbots",
            "labels": {
                "app.kubernetes.io/managed-by": "smarter",
                "app.kubernetes.io/component": "chatbot",
                "smarter.sh/chatbot-id": str(chatbot.pk),
            },
            "annotations": {
                "cert-manager.io/cluster-issuer": "letsencrypt-prod",
                "smarter.sh/chatbot": f"{chatbot.account.account_number}/{chatbot.name}",
            },
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": hosts, "secretName": f"{name}-tls"}],
            "rules": [
                {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
                for host in hosts
            ],
        },
    }


def records(route53: Any) -> list[tuple[str, str, int, list[str]]]:
    found = route53.list_resource_record_sets(HostedZoneId=route53.zone_id)["ResourceRecordSets"]
    return [
        (r["Name"], r["Type"], r["TTL"], [v["Value"] for v in r["ResourceRecords"]])
        for r in found
        if r["Type"] == "CNAME"
    ]


def test_deploy_creates_the_ingress_and_the_record_and_undeploy_removes_them(
    owner: Persona, kubernetes_api: KubernetesStandIn, route53: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        apply(owner, chatbot_manifest("help_desk"))
    assert kubernetes_api.requests == [] and records(route53) == []
    chatbot = Chatbot.objects.get(name="help_desk")
    host = f"help-desk.{owner.account.account_number}.api.example.com"
    name = f"smarter-chatbot-{chatbot.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        assert deploy(owner, "help_desk").status_code == 200
    assert kubernetes_api.requests == [
        ("GET", f"{INGRESSES}/{name}", None),
        ("POST", INGRESSES, expected_ingress(chatbot, [host])),
    ]
    assert records(route53) == [(f"{host}.", "CNAME", 300, ["ingress.example.net"])]

    # Running it again changes nothing: one read, no write.
    assert sync_chatbot_deployment_task.delay(chatbot.pk, []).get() == {
        "ingress": "unchanged",
        "records": {host: "unchanged"},
    }
    assert kubernetes_api.requests[2:] == [("GET", f"{INGRESSES}/{name}", None)]

    with django_capture_on_commit_callbacks(execute=True):
        assert deploy(owner, "help_desk", "undeploy").status_code == 200
    assert kubernetes_api.requests[3:] == [("DELETE", f"{INGRESSES}/{name}", kubernetes_api.requests[3][2])]
    assert kubernetes_api.objects == {} and records(route53) == []
    assert sync_chatbot_deployment_task.delay(chatbot.pk, []).get() == {
        "ingress": "absent",
        "records": {host: "absent"},
    }


def test_a_failed_call_is_retried_and_then_succeeds(
    owner: Persona,
    kubernetes_api: KubernetesStandIn,
    route53: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Run in-process, Celery performs a retry at once, unless it is told to re-raise the failure.
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_EAGER_PROPAGATES", False)
    apply(owner, chatbot_manifest("support"))
    chatbot = Chatbot.objects.get(name="support")
    name = f"smarter-chatbot-{chatbot.pk}"
    kubernetes_api.fail_next = 1
    with django_capture_on_commit_callbacks(execute=True):
        assert deploy(owner, "support").status_code == 200
    host = f"support.{owner.account.account_number}.api.example.com"
    assert [(method, path) for method, path, _ in kubernetes_api.requests] == [
        ("GET", f"{INGRESSES}/{name}"),  # answered 500: the task is retried
        ("GET", f"{INGRESSES}/{name}"),
        ("POST", INGRESSES),
    ]
    assert list(kubernetes_api.objects) == [("chatbots", name)]
    assert records(route53) == [(f"{host}.", "CNAME", 300, ["ingress.example.net"])]


def test_a_new_subdomain_and_a_verified_domain_update_the_ingress_and_move_the_record(
    owner: Persona, kubernetes_api: KubernetesStandIn, route53: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        apply(owner, chatbot_manifest("support", deployed=True, customDomain="chat.acme.test"))
    chatbot = Chatbot.objects.get(name="support")
    number = owner.account.account_number
    with django_capture_on_commit_callbacks(execute=True):
        apply(owner, chatbot_manifest("support", deployed=True, customDomain="chat.acme.test", subdomain="help"))
    new_host = f"help.{number}.api.example.com"
    put = kubernetes_api.requests[-1]
    assert put[0] == "PUT" and put[1] == f"{INGRESSES}/smarter-chatbot-{chatbot.pk}"
    assert put[2]["spec"] == expected_ingress(chatbot, [new_host])["spec"]
    assert put[2]["metadata"]["resourceVersion"] == "1"
    assert records(route53) == [(f"{new_host}.", "CNAME", 300, ["ingress.example.net"])]
    # Once the custom domain is verified, the Ingress carries it too (with its certificate).
    ChatbotDomain.objects.filter(chatbot=chatbot).update(status=DomainStatus.VERIFIED)
    assert sync_chatbot_deployment_task.delay(chatbot.pk, []).get()["ingress"] == "replaced"
    stored = kubernetes_api.objects[("chatbots", f"smarter-chatbot-{chatbot.pk}")]
    assert stored["spec"] == expected_ingress(chatbot, [new_host, "chat.acme.test"])["spec"]


def test_deleting_a_deployed_chatbot_removes_its_ingress_and_record(
    owner: Persona, kubernetes_api: KubernetesStandIn, route53: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        apply(owner, chatbot_manifest("support", deployed=True))
    assert len(kubernetes_api.objects) == 1 and len(records(route53)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.client.post("/api/v1/cli/delete/Chatbot/?name=support").status_code == 200
    assert kubernetes_api.objects == {} and records(route53) == []


def test_nothing_is_called_while_the_automation_is_off(
    owner: Persona, kubernetes_api: KubernetesStandIn, smarter_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    smarter_settings.kubernetes_enabled = False
    smarter_settings.aws_route53_enabled = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        apply(owner, chatbot_manifest("support", deployed=True))
        deploy(owner, "support", "undeploy")
    assert kubernetes_api.requests == []
    assert all("sync_chatbot_deployment" not in repr(callback) for callback in callbacks)


def test_deactivating_or_deleting_the_account_removes_its_chatbots_ingress_and_record(
    owner: Persona, kubernetes_api: KubernetesStandIn, route53: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from smarter.apps.account import services as account_services

    with django_capture_on_commit_callbacks(execute=True):
        apply(owner, chatbot_manifest("help_desk", deployed=True))
    chatbot = Chatbot.objects.get(name="help_desk")
    host = f"help-desk.{owner.account.account_number}.api.example.com"
    name = f"smarter-chatbot-{chatbot.pk}"
    assert records(route53) == [(f"{host}.", "CNAME", 300, ["ingress.example.net"])]
    kubernetes_api.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        account_services.account_set_identity(account=owner.account, name=owner.account.name, is_active=False)
    assert ("DELETE", f"{INGRESSES}/{name}") in [(method, path) for method, path, _ in kubernetes_api.requests]
    assert records(route53) == []

    with django_capture_on_commit_callbacks(execute=True):
        account_services.account_set_identity(account=owner.account, name=owner.account.name, is_active=True)
    assert records(route53) == [(f"{host}.", "CNAME", 300, ["ingress.example.net"])]
    kubernetes_api.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        account_services.account_delete(account=owner.account)
    assert ("DELETE", f"{INGRESSES}/{name}") in [(method, path) for method, path, _ in kubernetes_api.requests]
    assert records(route53) == []
