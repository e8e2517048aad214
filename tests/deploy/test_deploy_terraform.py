"""The Terraform of aws/terraform: parses, is formatted, and its modules fit together."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .support import INSTALL_HINT, REPO, TERRAFORM, run, tool

MODULES = ("vpc", "eks", "rds", "knowledge_index", "elasticache", "ecr", "s3", "dns", "iam")
ENVIRONMENTS = ("staging", "prod")
META_ARGUMENTS = {"source", "count", "for_each", "depends_on", "providers", "version"}


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of keys and strings; drop them, recursively."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {unquote(key): unquote(item) for key, item in value.items() if key != "__is_block__"}
    if isinstance(value, list):
        return [unquote(item) for item in value]
    return value


def parse(path: Path) -> dict[str, Any]:
    hcl2 = pytest.importorskip("hcl2", reason=f"needs python-hcl2: {INSTALL_HINT}")
    with path.open(encoding="utf-8") as handle:
        return unquote(hcl2.load(handle))


def blocks(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every block of one kind (variable, output, module) in a folder's .tf files, by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in parse(path).get(kind, []):
            for name, body in block.items():
                assert name not in found, f"{kind} {name} declared twice in {folder}"
                found[name] = body
    return found


def terraform_folders() -> list[Path]:
    return sorted({path.parent for path in TERRAFORM.rglob("*.tf") if ".terraform" not in path.parts})


def test_every_tf_file_parses() -> None:
    files = sorted(path for path in TERRAFORM.rglob("*.tf") if ".terraform" not in path.parts)
    assert len(files) >= 4 * len(MODULES)
    for path in files:
        assert isinstance(parse(path), dict), path


def test_the_modules_and_environments_exist() -> None:
    for module in MODULES:
        folder = TERRAFORM / "modules" / module
        assert (folder / "main.tf").is_file(), module
        assert (folder / "variables.tf").is_file(), module
        assert (folder / "outputs.tf").is_file(), module
    for environment in ENVIRONMENTS:
        calls = blocks(TERRAFORM / "environments" / environment, "module")
        assert {call["source"] for call in calls.values()} == {f"../../modules/{m}" for m in MODULES}


@pytest.mark.parametrize("folder", terraform_folders(), ids=lambda folder: str(folder.relative_to(TERRAFORM)))
def test_every_variable_has_a_description_and_a_type(folder: Path) -> None:
    for name, body in blocks(folder, "variable").items():
        assert body.get("description", "").strip(), f"{folder.name}: variable {name} has no description"
        assert body.get("type"), f"{folder.name}: variable {name} has no type"


@pytest.mark.parametrize("folder", terraform_folders(), ids=lambda folder: str(folder.relative_to(TERRAFORM)))
def test_every_output_has_a_description(folder: Path) -> None:
    for name, body in blocks(folder, "output").items():
        assert body.get("description", "").strip(), f"{folder.name}: output {name} has no description"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_module_calls_match_the_modules_interfaces(environment: str) -> None:
    """What `terraform validate` would say about the wiring, without the provider registry."""
    folder = TERRAFORM / "environments" / environment
    calls = blocks(folder, "module")
    declared = blocks(folder, "variable")
    outputs_of = {}
    for name, call in calls.items():
        module_folder = (folder / call["source"]).resolve()
        variables = blocks(module_folder, "variable")
        outputs_of[name] = set(blocks(module_folder, "output"))
        arguments = set(call) - META_ARGUMENTS
        assert arguments <= set(variables), f"module {name}: unknown arguments {arguments - set(variables)}"
        required = {variable for variable, body in variables.items() if "default" not in body}
        assert required <= arguments, f"module {name}: missing arguments {required - arguments}"
    text = "\n".join(path.read_text(encoding="utf-8") for path in folder.glob("*.tf"))
    # `module.x.y`, and `module.x[*].y` of a module called with `count`.
    for module, output in re.findall(r"\bmodule\.([a-z_]+)(?:\[[^\]]*\])?\.([a-z_]+)", text):
        assert module in calls, f"module.{module} is not called"
        assert output in outputs_of[module], f"module.{module} has no output {output}"
    for variable in re.findall(r"\bvar\.([a-z_]+)", text):
        assert variable in declared, f"var.{variable} is not declared"


@pytest.mark.parametrize("folder", [TERRAFORM / "modules" / module for module in MODULES], ids=MODULES)
def test_module_references_stay_inside_the_module(folder: Path) -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in folder.glob("*.tf"))
    declared = set(blocks(folder, "variable"))
    for variable in re.findall(r"\bvar\.([a-z_]+)", text):
        assert variable in declared, f"{folder.name}: var.{variable} is not declared"
    locals_declared = {name for block in _locals(folder) for name in block}
    for local in re.findall(r"\blocal\.([a-z_]+)", text):
        assert local in locals_declared, f"{folder.name}: local.{local} is not declared"


def _locals(folder: Path) -> list[dict[str, Any]]:
    return [block for path in sorted(folder.glob("*.tf")) for block in parse(path).get("locals", [])]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_state_is_remote_in_s3_with_a_lock_table(environment: str) -> None:
    folder = TERRAFORM / "environments" / environment
    (terraform,) = parse(folder / "versions.tf")["terraform"]
    (backend,) = terraform["backend"]
    assert backend["s3"]["key"] == f"smarter/{environment}/terraform.tfstate"
    assert backend["s3"]["encrypt"] is True
    example = (folder / "backend.hcl.example").read_text(encoding="utf-8")
    for setting in ("bucket", "region", "dynamodb_table"):
        assert re.search(rf"^{setting}\s*=", example, re.MULTILINE), setting


def resources(module: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in (TERRAFORM / "modules" / module).glob("*.tf"):
        for block in parse(path).get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    found[f"{kind}.{name}"] = body
    return found


def test_the_database_is_private_encrypted_and_backed_up() -> None:
    database = resources("rds")["aws_db_instance.this"]
    assert database["engine"] == "mysql"
    assert database["storage_encrypted"] is True
    assert database["publicly_accessible"] is False
    assert database["manage_master_user_password"] is True
    variables = blocks(TERRAFORM / "modules" / "rds", "variable")
    assert variables["engine_version"]["default"].startswith("8.")
    assert variables["backup_retention_days"]["default"] >= 7


def test_the_knowledge_index_is_private_encrypted_postgres_with_tls_only() -> None:
    module = resources("knowledge_index")
    database = module["aws_db_instance.this"]
    assert database["engine"] == "postgres"
    assert database["storage_encrypted"] is True
    assert database["publicly_accessible"] is False
    assert database["manage_master_user_password"] is True
    assert database["db_subnet_group_name"] == "${aws_db_subnet_group.this.name}"
    parameters = {p["name"]: p["value"] for p in module["aws_db_parameter_group.this"]["parameter"]}
    assert parameters["rds.force_ssl"] == "1"
    ingress = module["aws_vpc_security_group_ingress_rule.postgres"]
    assert (ingress["from_port"], ingress["to_port"]) == (5432, 5432)
    assert ingress["referenced_security_group_id"] == "${each.value}"
    assert "cidr_ipv4" not in ingress and "cidr_ipv6" not in ingress


def _pgvector_version_rule() -> re.Pattern[str]:
    variable = blocks(TERRAFORM / "modules" / "knowledge_index", "variable")["engine_version"]
    (validation,) = variable["validation"]
    (pattern,) = re.findall(r'regex\("((?:[^"\\]|\\.)*)"', validation["condition"])
    return re.compile(pattern.replace("\\\\", "\\"))


PGVECTOR_0_8_VERSIONS = ["17", "17.2", "18", "16.5", "16.10"]
OLDER_VERSIONS = ["16", "16.4", "15.9", "8.0", "17-beta"]


@pytest.mark.parametrize(
    ("version", "accepted"),
    [(version, True) for version in PGVECTOR_0_8_VERSIONS] + [(version, False) for version in OLDER_VERSIONS],
)
def test_the_knowledge_index_accepts_only_versions_that_ship_pgvector_0_8(version: str, accepted: bool) -> None:
    """RDS ships pgvector 0.8.0 with PostgreSQL 17.1 (its first release of 17) and 16.5."""
    assert bool(_pgvector_version_rule().search(version)) is accepted
    default = blocks(TERRAFORM / "modules" / "knowledge_index", "variable")["engine_version"]["default"]
    assert _pgvector_version_rule().search(default)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_knowledge_index_is_off_unless_enabled_and_feeds_the_charts_url(environment: str) -> None:
    folder = TERRAFORM / "environments" / environment
    call = blocks(folder, "module")["knowledge_index"]
    assert call["count"] == "${var.knowledge_index_enabled ? 1 : 0}"
    assert call["allowed_security_group_ids"] == ["${module.eks.cluster_security_group_id}"]
    assert call["subnet_ids"] == "${module.vpc.private_subnet_ids}"
    assert blocks(folder, "variable")["knowledge_index_enabled"]["default"] is False
    outputs = blocks(folder, "output")
    assert outputs["knowledge_index_url"]["value"] == "${one(module.knowledge_index[*].url_without_password)}"
    assert outputs["knowledge_index_secret_arn"]["value"] == (
        "${one(module.knowledge_index[*].master_user_secret_arn)}"
    )


def test_redis_uses_tls_and_an_auth_token() -> None:
    redis = resources("elasticache")["aws_elasticache_replication_group.this"]
    assert redis["transit_encryption_enabled"] is True
    assert redis["at_rest_encryption_enabled"] is True
    assert "random_password.auth_token.result" in redis["auth_token"]


def test_the_bucket_is_private_encrypted_and_versioned() -> None:
    bucket = resources("s3")
    block = bucket["aws_s3_bucket_public_access_block.this"]
    assert all(
        block[flag] is True
        for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert bucket["aws_s3_bucket_versioning.this"]["versioning_configuration"][0]["status"] == "Enabled"
    encryption = bucket["aws_s3_bucket_server_side_encryption_configuration.this"]["rule"][0]
    assert encryption["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"


def test_the_cluster_has_an_oidc_provider_and_the_app_role_trusts_one_service_account() -> None:
    assert "aws_iam_openid_connect_provider.this" in resources("eks")
    text = (TERRAFORM / "modules" / "iam" / "main.tf").read_text(encoding="utf-8")
    assert "system:serviceaccount:${var.namespace}:${var.service_account}" in text
    assert "AssumeRoleWithWebIdentity" in text


def test_the_certificate_is_a_wildcard_validated_by_dns() -> None:
    certificate = resources("dns")["aws_acm_certificate.this"]
    assert certificate["domain_name"] == "*.${var.domain}"
    assert "*.api.${var.domain}" in certificate["subject_alternative_names"]
    assert certificate["validation_method"] == "DNS"


def test_terraform_fmt_finds_nothing_to_change() -> None:
    terraform = tool("terraform", Path("/usr/local/bin/terraform"))
    result = run([terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)], cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
