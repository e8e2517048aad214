"""The environment the chart gives its pods is one the platform's settings accept."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .support import REPO, SECRET_SETTINGS, one, render_chart
from .test_deploy_chart import production_values_with_chart_secret

PROBE = """
import json
from smarter.common.conf import load_settings
settings = load_settings()
report = {
    "database_engine": settings.database_engine,
    "redis_url": settings.redis_url,
    "s3_bucket": settings.s3_bucket,
    "state_dir": str(settings.state_dir),
    "llm_provider": settings.effective_llm_provider,
    "https": settings.https,
    "fernet_keys": len(settings.fernet_key_list) if settings.fernet_keys else 0,
    "trusted_proxies": settings.trusted_proxy_networks,
}
if report["database_engine"] == "mysql":
    from django.conf import settings as django_settings
    report["django_engine"] = django_settings.DATABASES["default"]["ENGINE"]
    report["cache"] = django_settings.CACHES["default"]["BACKEND"]
    report["broker"] = django_settings.CELERY_BROKER_URL
    report["eager"] = django_settings.CELERY_TASK_ALWAYS_EAGER
print(json.dumps(report))
"""


def pod_environment(objects: list[dict[str, Any]], secrets_dir: Path) -> dict[str, str]:
    """What the web container sees: the ConfigMap as environment, the Secret as files.

    The Secret's keys are written into `secrets_dir` as the kubelet writes them into the
    mounted volume, and each `SMARTER_<NAME>_FILE` points at its file there.
    """
    web = one(objects, "Deployment", "smarter-web")["spec"]["template"]["spec"]
    container = web["containers"][0]
    (source,) = container["envFrom"]
    environment = dict(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    (mount,) = [mount for mount in container["volumeMounts"] if mount["name"] == "secrets"]
    (volume,) = [volume for volume in web["volumes"] if volume["name"] == "secrets"]
    secret = one(objects, "Secret", volume["secret"]["secretName"])["data"]
    for key, value in secret.items():
        (secrets_dir / key).write_bytes(base64.b64decode(value))
    for variable in container["env"]:
        if variable["name"].startswith("SMARTER_"):
            relative = Path(variable["value"]).relative_to(mount["mountPath"])
            environment[variable["name"]] = str(secrets_dir / relative)
    return environment


def load_in_a_pod_like_process(environment: dict[str, str]) -> dict[str, Any]:
    """Run the settings loader with exactly that environment (no SMARTER_* of this shell)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    clean.update(environment)
    clean["DJANGO_SETTINGS_MODULE"] = "smarter.settings"
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_values_give_mysql_redis_and_s3(tmp_path: Path) -> None:
    values = production_values_with_chart_secret()
    environment = pod_environment(render_chart(values), tmp_path)
    assert not SECRET_SETTINGS & set(environment), "secrets must arrive as files"
    report = load_in_a_pod_like_process(environment)
    assert report == {
        "database_engine": "mysql",
        "redis_url": values["secrets"]["redisUrl"],
        "s3_bucket": values["config"]["s3Bucket"],
        "state_dir": values["config"]["stateDir"],
        "llm_provider": "openai",
        "https": True,
        "fernet_keys": 1,
        "trusted_proxies": ["10.10.0.0/16"],
        "django_engine": "django.db.backends.mysql",
        "cache": "django.core.cache.backends.redis.RedisCache",
        "broker": values["secrets"]["redisUrl"],
        "eager": False,
    }


def test_default_values_are_accepted_with_generated_keys(tmp_path: Path) -> None:
    report = load_in_a_pod_like_process(pod_environment(render_chart({}), tmp_path))
    assert report["database_engine"] == "sqlite"
    assert report["redis_url"] is None
    assert report["llm_provider"] == "offline"
    assert report["state_dir"] == "/var/lib/smarter"
    assert report["fernet_keys"] == 1
    assert report["trusted_proxies"] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]


def test_a_bad_value_in_the_chart_secret_is_refused(tmp_path: Path) -> None:
    environment = pod_environment(render_chart(production_values_with_chart_secret()), tmp_path)
    Path(environment["SMARTER_DATABASE_URL_FILE"]).write_text("oracle://nowhere/db")
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "SMARTER_DATABASE_URL" in result.stderr
