"""The Helm chart, rendered offline: valid for Kubernetes 1.31 and holding the platform's rules."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

import pytest

from smarter.common.conf import setting_names

from .support import (
    CHART,
    INSTALL_HINT,
    KUBERNETES_VERSION,
    SECRET_SETTINGS,
    by_kind,
    one,
    production_values,
    render_chart,
)

WORKLOAD_KINDS = {"Deployment", "Job"}
SECRETS_MOUNT = "/var/run/secrets/smarter"


def production_values_with_chart_secret() -> dict[str, Any]:
    """Production values, with the chart managing the Secret instead of an existing one."""
    values = production_values()
    values["existingSecret"] = ""
    values["secrets"] = {
        "secretKey": "a-production-secret-key-" + "x" * 40,
        "openaiApiKey": "sk-test-key",
        "fernetKeys": "zBlkzU1Zl8JOTMbI-2a4-8dUEckJE8C8TJmmP0-Lysk=",
        "databaseUrl": "mysql://smarter:password@smarter-prod.abc.us-east-1.rds.amazonaws.com:3306/smarter",
        "redisUrl": "rediss://:token@master.smarter-prod.abc.use1.cache.amazonaws.com:6379/0?ssl_cert_reqs=required",
    }
    return values


VALUE_SETS = {
    "default": lambda: {},
    "production": production_values,
    "production-chart-secret": production_values_with_chart_secret,
}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = VALUE_SETS[request.param]()
    return values, render_chart(copy.deepcopy(values))


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (item["metadata"]["name"], item["spec"]["template"]["spec"])
        for item in objects
        if item["kind"] in WORKLOAD_KINDS
    ]


def test_every_object_is_valid_for_kubernetes_1_31_in_strict_mode(rendered: Any) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason=f"needs kubernetes-validate: {INSTALL_HINT}"
    )
    _, objects = rendered
    assert objects
    for item in objects:
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            first_line = str(error).splitlines()[0]
            pytest.fail(f"{item['kind']} {item['metadata']['name']}: {first_line}")


def test_every_object_loads_into_the_official_kubernetes_models(rendered: Any) -> None:
    client = pytest.importorskip("kubernetes.client", reason=f"needs kubernetes: {INSTALL_HINT}")
    api = client.ApiClient()
    _, objects = rendered
    for item in objects:
        version = item["apiVersion"].split("/")[-1]
        model_name = f"{version[0].upper()}{version[1:]}{item['kind']}"
        assert hasattr(client, model_name), f"no model {model_name}"
        model = api._ApiClient__deserialize(item, model_name)
        assert model.metadata.name == item["metadata"]["name"]
        assert api.sanitize_for_serialization(model)["kind"] == item["kind"]


def test_the_chart_renders_every_workload(rendered: Any) -> None:
    _, objects = rendered
    names = {(item["kind"], item["metadata"]["name"]) for item in objects}
    assert {
        ("Deployment", "smarter-web"),
        ("Deployment", "smarter-worker"),
        ("Deployment", "smarter-beat"),
        ("Job", "smarter-migrate"),
        ("Service", "smarter-web"),
        ("Ingress", "smarter"),
        ("HorizontalPodAutoscaler", "smarter-web"),
        ("HorizontalPodAutoscaler", "smarter-worker"),
        ("PodDisruptionBudget", "smarter-web"),
        ("ServiceAccount", "smarter"),
        ("Role", "smarter-ingresses"),
        ("RoleBinding", "smarter-ingresses"),
        ("ConfigMap", "smarter-config"),
    } <= names
    assert {"NetworkPolicy"} <= {kind for kind, _ in names}


def test_every_container_runs_locked_down_with_resources(rendered: Any) -> None:
    _, objects = rendered
    for name, spec in pod_specs(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        mounted_volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["runAsUser"] != 0, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert context["seccompProfile"]["type"] == "RuntimeDefault", where
            assert container["resources"]["requests"]["cpu"], where
            assert container["resources"]["requests"]["memory"], where
            assert container["resources"]["limits"]["memory"], where
            for mount in container.get("volumeMounts", []):
                volume = mounted_volumes[mount["name"]]
                # Writable mounts are scratch space; the Secret is mounted read-only.
                assert "emptyDir" in volume or ("secret" in volume and mount["readOnly"] is True), where


def test_the_state_dir_and_tmp_are_writable_volumes(rendered: Any) -> None:
    values, objects = rendered
    config = one(objects, "ConfigMap", "smarter-config")["data"]
    state_dir = config["SMARTER_STATE_DIR"]
    assert state_dir == (values.get("config", {}).get("stateDir") or "/var/lib/smarter")
    for name, spec in pod_specs(objects):
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            assert "emptyDir" in volumes[mounts[state_dir]], name


def test_the_web_probes_liveness_on_healthz_and_readiness_on_readyz(rendered: Any) -> None:
    _, objects = rendered
    web = one(objects, "Deployment", "smarter-web")["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Django answers only its allowed hosts; the kubelet probes by IP.
    assert web["readinessProbe"]["httpGet"]["httpHeaders"] == [{"name": "Host", "value": "localhost"}]
    assert web["command"][:2] == ["gunicorn", "smarter.asgi:application"]
    assert "--worker-class=uvicorn_worker.UvicornWorker" in web["command"]


def test_the_web_server_trusts_no_proxy_header_and_the_platform_the_configured_proxies(rendered: Any) -> None:
    values, objects = rendered
    command = one(objects, "Deployment", "smarter-web")["spec"]["template"]["spec"]["containers"][0]["command"]
    forwarded = [part for part in command if part.startswith("--forwarded-allow-ips")]
    assert forwarded == ["--forwarded-allow-ips="]
    config = one(objects, "ConfigMap", "smarter-config")["data"]
    expected = values.get("config", {}).get("trustedProxies", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7")
    assert config["SMARTER_TRUSTED_PROXIES"] == expected
    assert "*" not in config["SMARTER_TRUSTED_PROXIES"]


@pytest.mark.parametrize("value", ["*", "10.0.0.0/8,*", "proxy.local", "10.0.0.0/8;192.168.0.0/16"])
def test_the_chart_refuses_a_trusted_proxy_that_is_not_an_address(value: str) -> None:
    with pytest.raises(Exception, match="trustedProxies"):
        render_chart({"config": {"trustedProxies": value}})


def test_each_workload_runs_its_own_command(rendered: Any) -> None:
    _, objects = rendered

    def command(kind: str, name: str) -> list[str]:
        return one(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]["command"]

    assert command("Deployment", "smarter-worker")[:3] == ["celery", "--app=smarter", "worker"]
    assert command("Deployment", "smarter-beat")[:3] == ["celery", "--app=smarter", "beat"]
    assert command("Job", "smarter-migrate") == ["python", "-m", "django", "migrate", "--noinput"]


def test_the_image_tag_comes_from_the_values(rendered: Any) -> None:
    values, objects = rendered
    expected_tag = values.get("image", {}).get("tag") or "0.1.0"
    expected_repository = values.get("image", {}).get("repository") or "smarter"
    for name, spec in pod_specs(objects):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["image"] == f"{expected_repository}:{expected_tag}", name


def test_another_image_tag_reaches_every_container() -> None:
    objects = render_chart({"image": {"tag": "9.9.9-rc1"}})
    images = {
        container["image"]
        for _, spec in pod_specs(objects)
        for container in spec.get("initContainers", []) + spec["containers"]
    }
    assert images == {"smarter:9.9.9-rc1"}


def test_beat_is_a_single_replica_replaced_by_recreate(rendered: Any) -> None:
    _, objects = rendered
    beat = one(objects, "Deployment", "smarter-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    autoscaled = {item["spec"]["scaleTargetRef"]["name"] for item in by_kind(objects, "HorizontalPodAutoscaler")}
    assert autoscaled == {"smarter-web", "smarter-worker"}


def test_the_web_spreads_over_zones_and_keeps_a_disruption_budget(rendered: Any) -> None:
    _, objects = rendered
    spec = one(objects, "Deployment", "smarter-web")["spec"]["template"]["spec"]
    assert {constraint["topologyKey"] for constraint in spec["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    budget = one(objects, "PodDisruptionBudget", "smarter-web")
    web_labels = one(objects, "Deployment", "smarter-web")["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["selector"]["matchLabels"] == web_labels


def test_hooks_create_the_settings_before_the_migration(rendered: Any) -> None:
    values, objects = rendered
    hooks = {
        (item["kind"], item["metadata"]["name"]): item["metadata"]["annotations"]
        for item in objects
        if "helm.sh/hook" in item["metadata"].get("annotations", {})
    }
    expected = {("ConfigMap", "smarter-config"), ("Job", "smarter-migrate")}
    if not values.get("existingSecret"):
        expected.add(("Secret", "smarter-secrets"))
    assert set(hooks) == expected
    for hook_annotations in hooks.values():
        assert set(hook_annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    job_weight = int(hooks[("Job", "smarter-migrate")]["helm.sh/hook-weight"])
    for key, hook_annotations in hooks.items():
        if key[0] != "Job":
            assert int(hook_annotations["helm.sh/hook-weight"]) < job_weight, key


def test_the_configmap_and_secret_hold_exactly_the_platform_settings(rendered: Any) -> None:
    values, objects = rendered
    config_keys = set(one(objects, "ConfigMap", "smarter-config")["data"])
    assert config_keys == set(setting_names()) - SECRET_SETTINGS
    if values.get("existingSecret"):
        assert not by_kind(objects, "Secret")
        secret_name = values["existingSecret"]
    else:
        secret = one(objects, "Secret", "smarter-secrets")
        assert set(secret["data"]) == SECRET_SETTINGS
        assert config_keys | set(secret["data"]) == set(setting_names())
        secret_name = "smarter-secrets"
    for name, spec in pod_specs(objects):
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == secret_name, name
        for container in spec["containers"]:
            assert container["envFrom"] == [{"configMapRef": {"name": "smarter-config"}}], name
            # Secrets reach the process as files, never as environment values.
            file_variables = {
                variable["name"]: variable["value"]
                for variable in container["env"]
                if variable["name"].startswith("SMARTER_")
            }
            assert file_variables == {f"{setting}_FILE": f"{SECRETS_MOUNT}/{setting}" for setting in SECRET_SETTINGS}, (
                name
            )
            mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
            assert mounts[SECRETS_MOUNT] == {"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True}


def test_generated_keys_are_usable_by_the_platform() -> None:
    from cryptography.fernet import Fernet

    secret = one(render_chart({}), "Secret", "smarter-secrets")["data"]
    fernet_key = base64.b64decode(secret["SMARTER_FERNET_KEYS"])
    Fernet(fernet_key)  # raises on a malformed key
    assert len(base64.b64decode(secret["SMARTER_SECRET_KEY"])) >= 50


def test_rbac_reaches_only_ingresses_of_its_namespace(rendered: Any) -> None:
    _, objects = rendered
    assert not by_kind(objects, "ClusterRole")
    assert not by_kind(objects, "ClusterRoleBinding")
    (role,) = by_kind(objects, "Role")
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["networking.k8s.io"]
        assert rule["resources"] == ["ingresses"]
        assert "*" not in rule["verbs"]
    (binding,) = by_kind(objects, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "smarter", "namespace": "smarter"}]


def test_the_ingress_serves_the_platform_and_the_chatbot_hosts_over_tls(rendered: Any) -> None:
    values, objects = rendered
    config = values.get("config", {})
    root_domain = config.get("rootDomain", "example.com")
    platform = config.get("platformHost", "platform.example.com")
    ingress = one(objects, "Ingress", "smarter")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == [platform, f"*.api.{root_domain}"]
    assert ingress["spec"]["tls"][0]["hosts"] == hosts
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]


def test_only_the_web_accepts_connections(rendered: Any) -> None:
    _, objects = rendered
    policies = {item["metadata"]["name"]: item["spec"] for item in by_kind(objects, "NetworkPolicy")}
    assert policies["smarter-web"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert policies["smarter-background"]["ingress"] == []


def test_values_outside_the_schema_are_refused() -> None:
    helm_python = pytest.importorskip("helm_python", reason=f"needs helm-python-sdk: {INSTALL_HINT}")
    with pytest.raises(helm_python.HelmError):
        render_chart({"config": {"logLevel": "LOUD"}})
    with pytest.raises(helm_python.HelmError):
        render_chart({"web": {"replicaCount": "two"}})


def test_helm_lint_finds_no_warning_or_error() -> None:
    helm_python = pytest.importorskip("helm_python", reason=f"needs helm-python-sdk: {INSTALL_HINT}")
    for values in ({}, production_values()):
        report = helm_python.lint(CHART, values, strict=True, kube_version="v1.31.0")
        assert report["errors"] == []
        assert [message for message in report["messages"] if message["severity"] >= 2] == []


def environment_name(value_name: str) -> str:
    """config.awsRoute53Enabled is SMARTER_AWS_ROUTE53_ENABLED."""
    return "SMARTER_" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value_name).upper()


def test_each_config_value_is_one_configmap_key(rendered: Any) -> None:
    helm_python = pytest.importorskip("helm_python", reason=f"needs helm-python-sdk: {INSTALL_HINT}")
    values, objects = rendered
    with helm_python.Chart.load(CHART) as chart:
        config = chart.merge_values(values)["config"]
        schema_config = chart.schema["properties"]["config"]
    data = one(objects, "ConfigMap", "smarter-config")["data"]
    assert {environment_name(name) for name in config} == set(data)
    assert set(schema_config["required"]) == set(config) == set(schema_config["properties"])
    # Left empty, these follow the release: its namespace (the Role is limited to it) and its
    # web Service (the backend of every chatbot Ingress). The chart is rendered as release
    # "smarter" in namespace "smarter".
    derived_when_empty = {"kubernetesNamespace": "smarter", "kubernetesServiceName": "smarter-web"}
    for name, value in config.items():
        expected = str(value).lower() if isinstance(value, bool) else str(value)
        if value == "" and name in derived_when_empty:
            expected = derived_when_empty[name]
        assert data[environment_name(name)] == expected, name
