"""The chart's metrics: scraping, alerts (checked and unit-tested with promtool) and dashboards."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import (
    CHART,
    INSTALL_HINT,
    KUBERNETES_VERSION,
    REPO,
    SECRET_SETTINGS,
    by_kind,
    one,
    render_chart,
    run,
    tool,
)
from .test_deploy_chart import production_values_with_chart_secret
from .test_deploy_settings_round_trip import pod_environment

DASHBOARDS = CHART / "dashboards"
ALERT_TESTS = Path(__file__).parent / "prometheus" / "alerts.test.yaml"
GUIDE = REPO / "docs" / "observability.md"
MULTIPROCESS_DIR = "/tmp/prometheus-metrics"

# The platform's metrics (the contract rules and dashboards are written against): name, type.
METRICS = {
    "smarter_http_requests_total": "counter",
    "smarter_http_request_duration_seconds": "histogram",
    "smarter_turns_total": "counter",
    "smarter_turn_duration_seconds": "histogram",
    "smarter_llm_requests_total": "counter",
    "smarter_llm_request_duration_seconds": "histogram",
    "smarter_llm_time_to_first_token_seconds": "histogram",
    "smarter_tokens_total": "counter",
    "smarter_cost_usd_total": "counter",
    "smarter_plugin_calls_total": "counter",
    "smarter_plugin_duration_seconds": "histogram",
    "smarter_retrieval_duration_seconds": "histogram",
    "smarter_rate_limit_refusals_total": "counter",
    "smarter_channel_webhook_deliveries_total": "counter",
    "smarter_channel_replies_total": "counter",
    "smarter_celery_queue_depth": "gauge",
    "smarter_billing_outbox_pending": "gauge",
    "smarter_billing_outbox_lag_seconds": "gauge",
    "smarter_build_info": "gauge",
}
# Each metric's own labels; Prometheus adds namespace, job, pod, ... to every series it scrapes.
METRIC_LABELS = {
    "smarter_http_requests_total": {"door", "method", "status"},
    "smarter_http_request_duration_seconds": {"door"},
    "smarter_turns_total": {"provider", "model", "channel", "outcome"},
    "smarter_turn_duration_seconds": {"provider", "model"},
    "smarter_llm_requests_total": {"provider", "model", "outcome"},
    "smarter_llm_request_duration_seconds": {"provider", "model"},
    "smarter_llm_time_to_first_token_seconds": {"provider", "model"},
    "smarter_tokens_total": {"provider", "model", "direction"},
    "smarter_cost_usd_total": {"provider", "model"},
    "smarter_plugin_calls_total": {"plugin_class", "outcome"},
    "smarter_plugin_duration_seconds": {"plugin_class"},
    "smarter_retrieval_duration_seconds": {"backend"},
    "smarter_rate_limit_refusals_total": {"limit"},
    "smarter_channel_webhook_deliveries_total": {"channel_type", "outcome"},
    "smarter_channel_replies_total": {"channel_type", "outcome"},
    "smarter_celery_queue_depth": {"queue"},
    "smarter_billing_outbox_pending": set(),
    "smarter_billing_outbox_lag_seconds": set(),
    "smarter_build_info": {"version"},
}
TARGET_LABELS = {"namespace", "job", "pod", "service", "endpoint", "container", "instance"}
SERIES_NAMES = {
    series
    for name, kind in METRICS.items()
    for series in ([f"{name}_bucket", f"{name}_sum", f"{name}_count"] if kind == "histogram" else [name])
}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}

EVERYTHING_ON = {
    "metrics": {
        "enabled": True,
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboards": {"enabled": True},
    }
}
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule", "PodMonitor"}


def with_values(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = with_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def metrics_values(**switches: bool) -> dict[str, Any]:
    """metrics.enabled and the named parts (serviceMonitor, prometheusRule, grafanaDashboards) on."""
    return {"metrics": {"enabled": True, **{name: {"enabled": on} for name, on in switches.items()}}}


def container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    result: dict[str, Any] = one(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    return result


def dashboard_config_maps(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in by_kind(objects, "ConfigMap") if "-dashboard-" in item["metadata"]["name"]]


def observability_objects(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    names = {(item["kind"], item["metadata"]["name"]) for item in objects if item["kind"] in MONITORING_KINDS}
    names |= {("ConfigMap", item["metadata"]["name"]) for item in dashboard_config_maps(objects)}
    names |= {(item["kind"], item["metadata"]["name"]) for item in objects if "metrics" in item["metadata"]["name"]}
    return names


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions with In) picks these labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


# --- what appears, and when ---------------------------------------------------------------------


def test_nothing_of_the_metrics_is_rendered_by_default() -> None:
    objects = render_chart({})
    assert observability_objects(objects) == set()
    assert "ports" not in container(objects, "smarter-worker")
    assert one(objects, "ConfigMap", "smarter-config")["data"]["SMARTER_WORKER_METRICS_PORT"] == "0"
    assert one(objects, "Secret", "smarter-secrets")["data"]["SMARTER_METRICS_TOKEN"] == ""


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ({}, {("Service", "smarter-worker-metrics"), ("NetworkPolicy", "smarter-worker-metrics")}),
        ({"serviceMonitor": True}, {("ServiceMonitor", "smarter")}),
        ({"prometheusRule": True}, {("PrometheusRule", "smarter")}),
        (
            {"grafanaDashboards": True},
            {
                ("ConfigMap", "smarter-dashboard-traffic"),
                ("ConfigMap", "smarter-dashboard-llm"),
                ("ConfigMap", "smarter-dashboard-plugins"),
                ("ConfigMap", "smarter-dashboard-billing"),
            },
        ),
    ],
)
def test_each_part_appears_only_when_enabled(switches: dict[str, bool], expected: set[tuple[str, str]]) -> None:
    always_with_metrics = {("Service", "smarter-worker-metrics"), ("NetworkPolicy", "smarter-worker-metrics")}
    objects = render_chart(metrics_values(**switches))
    assert observability_objects(objects) == always_with_metrics | expected


def test_a_service_monitor_without_metrics_is_refused() -> None:
    with pytest.raises(Exception, match=r"metrics.serviceMonitor.enabled needs metrics.enabled"):
        render_chart({"metrics": {"serviceMonitor": {"enabled": True}}})


def test_metrics_give_web_and_workers_a_shared_folder_and_the_workers_a_port() -> None:
    objects = render_chart(metrics_values())
    config = one(objects, "ConfigMap", "smarter-config")["data"]
    assert config["SMARTER_WORKER_METRICS_PORT"] == "9100"
    worker = container(objects, "smarter-worker")
    assert worker["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    service = one(objects, "Service", "smarter-worker-metrics")["spec"]
    assert service["clusterIP"] == "None"
    assert service["ports"] == [{"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}]
    worker_pod_labels = one(objects, "Deployment", "smarter-worker")["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": service["selector"]}, worker_pod_labels)
    for name in ("smarter-web", "smarter-worker"):
        spec = one(objects, "Deployment", name)["spec"]["template"]["spec"]
        environment = {variable["name"]: variable.get("value") for variable in spec["containers"][0]["env"]}
        assert environment["PROMETHEUS_MULTIPROC_DIR"] == MULTIPROCESS_DIR, name
        mounts = {mount["mountPath"]: mount["name"] for mount in spec["containers"][0]["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert "emptyDir" in volumes[mounts[MULTIPROCESS_DIR]], name
    assert "--config=python:smarter.gunicorn_conf" in container(objects, "smarter-web")["command"]


def test_an_explicit_worker_metrics_port_is_used_everywhere() -> None:
    objects = render_chart(with_values(metrics_values(), {"config": {"workerMetricsPort": 9200}}))
    assert one(objects, "ConfigMap", "smarter-config")["data"]["SMARTER_WORKER_METRICS_PORT"] == "9200"
    assert container(objects, "smarter-worker")["ports"][0]["containerPort"] == 9200
    assert one(objects, "Service", "smarter-worker-metrics")["spec"]["ports"][0]["port"] == 9200


def test_prometheus_may_reach_both_metrics_ports_through_the_network_policies() -> None:
    nginx = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    values = with_values(metrics_values(), {"networkPolicy": {"ingressFrom": [nginx], "metricsFrom": [monitoring]}})
    policies = {item["metadata"]["name"]: item["spec"] for item in by_kind(render_chart(values), "NetworkPolicy")}
    assert policies["smarter-web"]["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}], "from": [nginx, monitoring]}
    ]
    assert policies["smarter-worker-metrics"]["ingress"] == [
        {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [monitoring]}
    ]
    assert policies["smarter-background"]["ingress"] == []
    # Without metrics, Prometheus's peers are not let in.
    values["metrics"]["enabled"] = False
    policies = {item["metadata"]["name"]: item["spec"] for item in by_kind(render_chart(values), "NetworkPolicy")}
    assert policies["smarter-web"]["ingress"][0]["from"] == [nginx]


# --- the ServiceMonitor and its token -----------------------------------------------------------


def test_the_service_monitor_scrapes_web_and_workers_with_the_token_of_the_chart_secret() -> None:
    objects = render_chart(metrics_values(serviceMonitor=True))
    monitor = one(objects, "ServiceMonitor", "smarter")["spec"]
    secret = one(objects, "Secret", "smarter-secrets")["data"]
    token = base64.b64decode(secret["SMARTER_METRICS_TOKEN"]).decode()
    assert len(token) >= 32, "metrics.enabled generates a token"
    assert monitor["namespaceSelector"] == {"matchNames": ["smarter"]}
    services = [
        item for item in by_kind(objects, "Service") if selects(monitor["selector"], item["metadata"]["labels"])
    ]
    assert sorted(item["metadata"]["name"] for item in services) == ["smarter-web", "smarter-worker-metrics"]
    service_ports = {port["name"] for item in services for port in item["spec"]["ports"]}
    assert [endpoint["port"] for endpoint in monitor["endpoints"]] == ["http", "metrics"]
    for endpoint in monitor["endpoints"]:
        assert endpoint["port"] in service_ports
        assert endpoint["path"] == "/metrics"
        assert endpoint["interval"] == "30s"
        credentials = endpoint["authorization"]["credentials"]
        assert endpoint["authorization"]["type"] == "Bearer"
        assert credentials["name"] == "smarter-secrets"
        assert credentials["key"] in secret


def test_the_service_monitor_reads_an_existing_secret_at_the_key_the_pods_read() -> None:
    values = with_values(
        metrics_values(serviceMonitor=True),
        {"existingSecret": "managed-elsewhere", "metrics": {"serviceMonitor": {"interval": "15s"}}},
    )
    objects = render_chart(values)
    assert not by_kind(objects, "Secret")
    for endpoint in one(objects, "ServiceMonitor", "smarter")["spec"]["endpoints"]:
        assert endpoint["interval"] == "15s"
        assert endpoint["authorization"]["credentials"] == {"name": "managed-elsewhere", "key": "SMARTER_METRICS_TOKEN"}
    # The pods read the same key of the same Secret as the file behind SMARTER_METRICS_TOKEN_FILE.
    assert "SMARTER_METRICS_TOKEN" in SECRET_SETTINGS
    spec = one(objects, "Deployment", "smarter-web")["spec"]["template"]["spec"]
    assert {volume["name"]: volume for volume in spec["volumes"]}["secrets"]["secret"][
        "secretName"
    ] == "managed-elsewhere"


def test_the_pods_settings_accept_the_metrics_environment(tmp_path: Path) -> None:
    values = with_values(production_values_with_chart_secret(), metrics_values(serviceMonitor=True))
    values["secrets"]["metricsToken"] = "a-metrics-token-" + "m" * 32
    environment = pod_environment(render_chart(values), tmp_path)
    probe = (
        "import json\n"
        "from smarter.common.conf import load_settings\n"
        "s = load_settings()\n"
        "print(json.dumps({'port': s.worker_metrics_port, 'token': s.metrics_token.get_secret_value(),"
        " 'sentry': s.sentry_dsn, 'otlp': s.otlp_endpoint, 'ratio': s.otel_sample_ratio}))\n"
    )
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "port": 9100,
        "token": values["secrets"]["metricsToken"],
        "sentry": None,
        "otlp": None,
        "ratio": 1.0,
    }


# --- validity of every object ---------------------------------------------------------------------


def monitoring_model(kind: str) -> Any:
    models = pytest.importorskip(
        "cloudcoil.models.prometheus_operator.v1",
        reason=f"needs cloudcoil-models-prometheus-operator: {INSTALL_HINT}",
    )
    return getattr(models, kind)


def unknown_fields(given: Any, kept: Any, where: str = "") -> list[str]:
    """Paths of `given` that the model dropped: fields the CRD's schema does not have."""
    if isinstance(given, dict):
        assert isinstance(kept, dict), where
        missing = [f"{where}.{key}" for key in given if key not in kept]
        return missing + [
            path for key in given if key in kept for path in unknown_fields(given[key], kept[key], f"{where}.{key}")
        ]
    if isinstance(given, list):
        assert isinstance(kept, list) and len(kept) == len(given), where
        return [
            path for index, item in enumerate(given) for path in unknown_fields(item, kept[index], f"{where}[{index}]")
        ]
    return []


def test_every_object_with_everything_on_is_valid() -> None:
    """Core objects against Kubernetes 1.31 in strict mode; the Prometheus Operator's against its CRDs."""
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason=f"needs kubernetes-validate: {INSTALL_HINT}"
    )
    values = with_values(production_values_with_chart_secret(), EVERYTHING_ON)
    objects = render_chart(values)
    kinds = {item["kind"] for item in objects}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    for item in objects:
        if item["apiVersion"] == "monitoring.coreos.com/v1":
            model = monitoring_model(item["kind"])
            # The models are generated from the CRDs' OpenAPI schemas: types, enums and required
            # fields are checked; a field the schema lacks is dropped, which is caught here.
            parsed = model.model_validate(item)
            kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
            assert unknown_fields(item, kept) == [], item["kind"]
            continue
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{item['kind']} {item['metadata']['name']}: {str(error).splitlines()[0]}")


def test_the_crd_check_catches_a_misspelt_field() -> None:
    monitor = one(render_chart(metrics_values(serviceMonitor=True)), "ServiceMonitor", "smarter")
    monitor["spec"]["endpoints"][0]["bearerTokenSecrett"] = {"name": "x", "key": "y"}
    kept = monitoring_model("ServiceMonitor").model_validate(monitor).model_dump(by_alias=True, exclude_unset=True)
    assert unknown_fields(monitor, kept) == [".spec.endpoints[0].bearerTokenSecrett"]


def test_helm_lint_is_clean_with_everything_on() -> None:
    helm_python = pytest.importorskip("helm_python", reason=f"needs helm-python-sdk: {INSTALL_HINT}")
    report = helm_python.lint(CHART, EVERYTHING_ON, strict=True, kube_version="v1.31.0")
    assert report["errors"] == []
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


# --- the alerts -------------------------------------------------------------------------------------


def promtool() -> str:
    return tool("promtool", Path("/usr/bin/promtool"))


def rendered_rules(values: dict[str, Any] | None = None, name: str = "smarter") -> dict[str, Any]:
    objects = render_chart(with_values(values or {}, {"metrics": {"prometheusRule": {"enabled": True}}}))
    spec: dict[str, Any] = one(objects, "PrometheusRule", name)["spec"]
    return spec


def alert_rules(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in spec["groups"] for rule in group["rules"] if "alert" in rule}


def test_the_rules_pass_promtool_check_and_the_unit_tests(tmp_path: Path) -> None:
    command = promtool()
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rendered_rules()), encoding="utf-8")
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    checked = run([command, "check", "rules", str(tmp_path / "rules.yaml")])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = run([command, "test", "rules", str(tmp_path / ALERT_TESTS.name)])
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_unit_tests_cover_every_alert_firing_and_not_firing() -> None:
    suite = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    firing: set[str] = set()
    silent: set[str] = set()
    for case in suite["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
            for alert in check["exp_alerts"]:
                assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}
                assert alert["exp_labels"]["severity"]
    assert firing == silent == set(alert_rules(rendered_rules()))


def test_every_alert_has_a_severity_an_explanation_and_a_runbook_in_the_guide() -> None:
    rules = alert_rules(rendered_rules())
    assert set(rules) == {
        "SmarterHighErrorRate",
        "SmarterSlowTurns",
        "SmarterLLMFailures",
        "SmarterBillingOutboxLag",
        "SmarterCeleryQueueBacklog",
    }
    anchors = guide_anchors()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        page, anchor = rule["annotations"]["runbook_url"].split("#")
        assert page == "docs/observability.md", name
        assert anchor in anchors, f"{name}: no heading for #{anchor} in {GUIDE.name}"


def test_thresholds_durations_and_labels_come_from_the_values() -> None:
    values = {
        "metrics": {
            "prometheusRule": {
                "labels": {"release": "kube-prometheus-stack"},
                "runbookUrl": "https://docs.example.com/observability",
                "alerts": {
                    "highErrorRate": {"threshold": 0.2, "for": "1m", "severity": "page"},
                    "celeryQueueDepth": {"threshold": 42, "for": "2h", "severity": "ticket"},
                },
            }
        }
    }
    objects = render_chart(with_values(values, {"metrics": {"prometheusRule": {"enabled": True}}}))
    rule = one(objects, "PrometheusRule", "smarter")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = alert_rules(rule["spec"])
    assert rules["SmarterHighErrorRate"]["expr"].endswith("> 0.2")
    assert rules["SmarterHighErrorRate"]["for"] == "1m"
    assert rules["SmarterHighErrorRate"]["labels"] == {"severity": "page"}
    assert rules["SmarterCeleryQueueBacklog"]["expr"].endswith("> 42")
    assert rules["SmarterCeleryQueueBacklog"]["for"] == "2h"
    assert rules["SmarterCeleryQueueBacklog"]["annotations"]["runbook_url"] == (
        "https://docs.example.com/observability#smarterceleryqueuebacklog"
    )


def test_the_alerts_read_only_this_releases_series() -> None:
    rules = alert_rules(rendered_rules({"fullnameOverride": "acme"}, name="acme"))
    for name, rule in rules.items():
        assert 'namespace="smarter", job=~"acme-web|acme-worker-metrics"' in rule["expr"], name


# --- the dashboards ---------------------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, Any]]:
    files = sorted(DASHBOARDS.glob("*.json"))
    assert [path.name for path in files] == [
        "smarter-billing.json",
        "smarter-llm.json",
        "smarter-plugins.json",
        "smarter-traffic.json",
    ]
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in files}


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target of every dashboard."""
    found = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{name}: {panel['title']}", target["expr"]))
    return found


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, as Prometheus receives it."""
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?(\w+)\}?", r"\1", expr)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (its selectors' names)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        follows = text[match.end() :].lstrip()
        if follows.startswith("(") or match.group().lower() in PROMQL_KEYWORDS:
            continue  # a function, an aggregation or an operator
        names.add(match.group())
    return names


def label_names(expr: str) -> set[str]:
    """The labels an expression matches on or groups by."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    names = set()
    for matchers in re.findall(r"\{([^}]*)\}", text):
        names |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        names |= {label.strip() for label in grouping.split(",") if label.strip()}
    return names


def family(series: str) -> str:
    return series if series in METRICS else re.sub(r"_(bucket|sum|count)$", "", series)


def test_metric_names_are_read_from_selectors_only() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (provider, le) (rate(smarter_turn_duration_seconds_bucket{job=~"a|b"}[5m])))'
        " / on (provider) group_left sum without (pod) (smarter_tokens_total offset 1h) > bool 1e3"
    )
    assert metric_names(expr) == {"smarter_turn_duration_seconds_bucket", "smarter_tokens_total"}
    assert label_names(expr) == {"provider", "le", "job", "pod"}


def test_every_dashboard_is_a_grafana_dashboard_with_unique_ids() -> None:
    boards = dashboards()
    assert len({board["uid"] for board in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["title"].startswith("Smarter / "), name
        variables = {variable["name"] for variable in board["templating"]["list"]}
        assert variables == {"datasource", "namespace"}, name
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert 'namespace="$namespace"' in target["expr"], panel["title"]


def test_every_expression_reads_only_the_platforms_metrics() -> None:
    expressions = dashboard_expressions()
    expressions += [(name, rule["expr"]) for name, rule in alert_rules(rendered_rules()).items()]
    for board in dashboards().values():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                (metric,) = re.findall(r"label_values\((\w+),", variable["query"]["query"])
                expressions.append((variable["name"], metric))
    used = set()
    for where, expr in expressions:
        names = metric_names(as_promql(expr))
        assert names, where
        assert names <= SERIES_NAMES, f"{where}: {sorted(names - SERIES_NAMES)}"
        used |= names
        known_labels = TARGET_LABELS.union(*(METRIC_LABELS[family(name)] for name in names))
        if any(name.endswith("_bucket") for name in names):
            known_labels.add("le")
        unknown = label_names(as_promql(expr)) - known_labels
        assert unknown == set(), f"{where}: labels {sorted(unknown)} are not labels of {sorted(names)}"
    # Every metric of the platform is on a dashboard or in an alert.
    assert set(METRICS) - {family(name) for name in used} == set()


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    """promtool has no expression check: the queries become recording rules that it checks."""
    command = promtool()
    rules = [
        {"record": f"dashboard:query_{index}:check", "expr": as_promql(expr)}
        for index, (_, expr) in enumerate(dashboard_expressions())
    ]
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    checked = run([command, "check", "rules", str(path)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout
    # The check would see a broken query.
    path.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "broken", "rules": [{"record": "x:y", "expr": "sum by (a (rate(x[5m]))"}]}]}
        ),
        encoding="utf-8",
    )
    assert run([command, "check", "rules", str(path)]).returncode != 0


def test_the_dashboard_config_maps_hold_the_files_with_the_sidecar_label() -> None:
    values = {
        "metrics": {
            "grafanaDashboards": {
                "enabled": True,
                "namespace": "monitoring",
                "annotations": {"grafana_folder": "Smarter"},
            }
        }
    }
    maps = dashboard_config_maps(render_chart(values))
    files = {}
    for item in maps:
        assert item["metadata"]["namespace"] == "monitoring"
        assert item["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert item["metadata"]["annotations"] == {"grafana_folder": "Smarter"}
        files.update({key: json.loads(text) for key, text in item["data"].items()})
    assert files == dashboards()
    # Another sidecar's label replaces the default one (null removes a default key in Helm).
    labels = {"dashboards": "smarter", "grafana_dashboard": None}
    custom = {"metrics": {"grafanaDashboards": {"enabled": True, "labels": labels}}}
    for item in dashboard_config_maps(render_chart(custom)):
        assert item["metadata"]["labels"]["dashboards"] == "smarter"
        assert "grafana_dashboard" not in item["metadata"]["labels"]


# --- the guide --------------------------------------------------------------------------------------


def guide_anchors() -> set[str]:
    """GitHub's anchors of the guide's headings."""
    headings = re.findall(r"^#+ (.+)$", GUIDE.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_guide_has_the_kubernetes_and_alerts_sections_and_names_real_values() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert text.startswith("# Observability\n")
    assert {"kubernetes-scraping-alerts-and-dashboards", "alerts"} <= guide_anchors()
    helm_python = pytest.importorskip("helm_python", reason=f"needs helm-python-sdk: {INSTALL_HINT}")
    with helm_python.Chart.load(CHART) as chart:
        defaults = chart.merge_values({})
    named = set(re.findall(r"`((?:metrics|config|secrets|networkPolicy|web|worker)\.[\w.]+)", text))
    assert {"metrics.enabled", "secrets.metricsToken", "networkPolicy.metricsFrom"} <= named
    for path in named:
        node: Any = defaults
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, path
            node = node[part]
