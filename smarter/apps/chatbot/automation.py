"""What a deployed chatbot needs outside the platform: an Ingress for its hosts (with a cert-manager
certificate) and a Route53 record for its default host. Each step reads the current state first
and changes only what differs, so running it twice, or after a failure, is safe.

Off by default: `SMARTER_KUBERNETES_ENABLED` and `SMARTER_AWS_ROUTE53_ENABLED` turn each on.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from django.conf import settings

from smarter.apps.chatbot import hosts
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, DomainStatus

logger = logging.getLogger(__name__)

Outcome = Literal["created", "replaced", "unchanged", "deleted", "absent"]
MANAGED_BY = "smarter"


# --- Kubernetes ---------------------------------------------------------------------------------
def ingress_name(chatbot_id: int) -> str:
    """Stable across renames, so a renamed chatbot updates its Ingress instead of leaving one behind."""
    return f"smarter-chatbot-{chatbot_id}"


def routed_hosts(chatbot: Chatbot) -> list[str]:
    """The hosts an Ingress must carry: the default host and, once verified, the custom domain."""
    found = [hosts.default_host(chatbot)]
    verified = ChatbotDomain.objects.filter(chatbot=chatbot, status=DomainStatus.VERIFIED).values_list(
        "domain", flat=True
    )
    return found + list(verified)


def ingress_body(chatbot: Chatbot, served: list[str]) -> dict[str, Any]:
    name = ingress_name(chatbot.pk)
    backend = {
        "service": {
            "name": settings.SMARTER.kubernetes_service_name,
            "port": {"number": settings.SMARTER.kubernetes_service_port},
        }
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": settings.SMARTER.kubernetes_namespace,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "app.kubernetes.io/component": "chatbot",
                "smarter.sh/chatbot-id": str(chatbot.pk),
            },
            "annotations": {
                "cert-manager.io/cluster-issuer": settings.SMARTER.kubernetes_cluster_issuer,
                "smarter.sh/chatbot": f"{chatbot.account.account_number}/{chatbot.name}",
            },
        },
        "spec": {
            "ingressClassName": settings.SMARTER.kubernetes_ingress_class,
            "tls": [{"hosts": served, "secretName": f"{name}-tls"}],
            "rules": [
                {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
                for host in served
            ],
        },
    }


def _networking_api() -> Any:
    from kubernetes import client, config

    configuration = client.Configuration()
    if settings.SMARTER.kubernetes_api_url:
        configuration.host = settings.SMARTER.kubernetes_api_url
    else:
        config.load_incluster_config(client_configuration=configuration)
    return client.NetworkingV1Api(client.ApiClient(configuration))


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    metadata = current.get("metadata", {})
    return (
        metadata.get("labels") == wanted["metadata"]["labels"]
        and all(metadata.get("annotations", {}).get(k) == v for k, v in wanted["metadata"]["annotations"].items())
        and current.get("spec") == wanted["spec"]
    )


def ingress_ensure(chatbot: Chatbot) -> Outcome:
    from kubernetes.client.exceptions import ApiException

    api = _networking_api()
    namespace = settings.SMARTER.kubernetes_namespace
    wanted = ingress_body(chatbot, routed_hosts(chatbot))
    name = wanted["metadata"]["name"]
    try:
        current = api.read_namespaced_ingress(name, namespace)
    except ApiException as error:
        if error.status != 404:
            raise
        api.create_namespaced_ingress(namespace, wanted)
        return "created"
    if _same(api.api_client.sanitize_for_serialization(current), wanted):
        return "unchanged"
    wanted["metadata"]["resourceVersion"] = current.metadata.resource_version
    api.replace_namespaced_ingress(name, namespace, wanted)
    return "replaced"


def ingress_delete(chatbot_id: int) -> Outcome:
    from kubernetes.client.exceptions import ApiException

    api = _networking_api()
    try:
        api.delete_namespaced_ingress(ingress_name(chatbot_id), settings.SMARTER.kubernetes_namespace)
    except ApiException as error:
        if error.status == 404:
            return "absent"
        raise
    return "deleted"


# --- Route53 ------------------------------------------------------------------------------------
def _route53() -> Any:
    import boto3

    return boto3.client(
        "route53", region_name=settings.SMARTER.aws_region, endpoint_url=settings.SMARTER.aws_endpoint_url
    )


def _record_set(host: str) -> dict[str, Any]:
    return {
        "Name": f"{host}.",
        "Type": "CNAME",
        "TTL": settings.SMARTER.aws_route53_ttl,
        "ResourceRecords": [{"Value": settings.SMARTER.aws_route53_target}],
    }


def _current_record(client: Any, host: str) -> dict[str, Any] | None:
    found = client.list_resource_record_sets(
        HostedZoneId=settings.SMARTER.aws_route53_hosted_zone_id,
        StartRecordName=f"{host}.",
        StartRecordType="CNAME",
        MaxItems="1",
    )["ResourceRecordSets"]
    if found and found[0]["Name"].lower() == f"{host}." and found[0]["Type"] == "CNAME":
        return dict(found[0])
    return None


def _change(client: Any, action: str, record: dict[str, Any]) -> None:
    client.change_resource_record_sets(
        HostedZoneId=settings.SMARTER.aws_route53_hosted_zone_id,
        ChangeBatch={"Comment": "Smarter chatbot host", "Changes": [{"Action": action, "ResourceRecordSet": record}]},
    )


def record_ensure(host: str) -> Outcome:
    client = _route53()
    wanted = _record_set(host)
    current = _current_record(client, host)
    if current == wanted:
        return "unchanged"
    _change(client, "UPSERT", wanted)
    return "created" if current is None else "replaced"


def record_delete(host: str) -> Outcome:
    client = _route53()
    current = _current_record(client, host)
    if current is None:
        return "absent"
    _change(client, "DELETE", current)  # Route53 deletes only the exact record set
    return "deleted"


# --- the whole reconciliation -------------------------------------------------------------------
def chatbot_deployment_sync(*, chatbot_id: int, stale_hosts: list[str]) -> dict[str, Any]:
    """Make the Ingress and DNS match the chatbot now: present when it is deployed, absent when it
    is undeployed or deleted; records of hosts it no longer has (`stale_hosts`) are removed."""
    chatbot = Chatbot.objects.select_related("account").filter(pk=chatbot_id).first()
    serve = chatbot is not None and chatbot.deployed and chatbot.account.is_active
    done: dict[str, Any] = {}
    if settings.SMARTER.kubernetes_enabled:
        done["ingress"] = ingress_ensure(chatbot) if serve and chatbot else ingress_delete(chatbot_id)
    if settings.SMARTER.aws_route53_enabled:
        records: dict[str, Outcome] = {}
        suffix = f".api.{settings.SMARTER.root_domain}"
        default = hosts.default_host(chatbot) if chatbot is not None else None
        for host in stale_hosts:
            if host.endswith(suffix) and host != default:
                records[host] = record_delete(host)
        if default is not None:
            records[default] = record_ensure(default) if serve else record_delete(default)
        done["records"] = records
    logger.info("chatbot %s deployment synced: %s", chatbot_id, done)
    return done
