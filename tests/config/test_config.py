"""kit.yaml: the shipped default loads, and every kind of mistake gets one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_kit.config import ConfigError, KitConfig, load_config
from mlops_kit.config.backbone import INTERFACE_ENDPOINTS
from tests.conftest import ROOT, config_from_yaml


def error_for(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config_from_yaml(text)
    return caught.value


def test_shipped_default_is_valid_and_private(default_config: KitConfig) -> None:
    assert default_config.prefix == "mlops"
    assert default_config.environment.is_agnostic
    assert default_config.network.internet == "none"
    assert default_config.network.az_count == 2
    assert default_config.network.interface_endpoints.add == default_config.network.interface_endpoints.remove == []


def test_empty_file_gives_all_defaults() -> None:
    config = config_from_yaml("")
    assert config.network.cidr == "10.40.0.0/16"
    assert config.audit.cloudtrail_data_events is False


def test_every_endpoint_is_documented() -> None:
    for spec in INTERFACE_ENDPOINTS.values():
        assert spec.reason


def test_fails_if_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'nope.yaml'}: file not found")


def test_fails_if_yaml_is_broken() -> None:
    error = error_for("network:\n  cidr: [10.0.0.0/16\n")
    assert error.line is not None
    assert "YAML syntax error" in str(error)


def test_fails_if_key_is_unknown_and_lists_the_allowed_keys() -> None:
    error = error_for("network:\n  cidrr: 10.0.0.0/16\n")
    assert str(error) == (
        "kit.yaml:2: network.cidrr: unknown key 'cidrr'; allowed keys: cidr, az_count, internet, "
        "interface_endpoints, endpoint_az_count, flow_logs, availability_zones"
    )


def test_fails_if_type_is_wrong() -> None:
    error = error_for("network:\n  az_count: two\n")
    assert error.field == "network.az_count"
    assert error.line == 2
    assert "valid integer" in str(error)


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [
        ("10.0.0/16", "not a valid IPv4 CIDR block"),
        ("8.8.0.0/16", "must be a private range"),
        ("10.0.0.0/28", "from /16 to /22"),
        ("10.0.0.1/16", "not a valid IPv4 CIDR block"),
    ],
)
def test_fails_if_cidr_is_invalid(cidr: str, expected: str) -> None:
    error = error_for(f"network:\n  cidr: {cidr}\n")
    assert error.field == "network.cidr"
    assert expected in str(error)
    assert str(error).startswith("kit.yaml:2: network.cidr: got")


@pytest.mark.parametrize("count", [0, 7])
def test_fails_if_az_count_is_out_of_range(count: int) -> None:
    error = error_for(f"environment:\n  account: '123456789012'\n  region: eu-west-1\nnetwork:\n  az_count: {count}\n")
    assert error.field == "network.az_count"
    assert error.line == 5


def test_fails_if_agnostic_platform_asks_for_three_azs() -> None:
    error = error_for("network:\n  az_count: 3\n")
    assert error.field == "network.az_count"
    assert "environment.account and environment.region" in str(error)


def test_three_azs_are_fine_with_a_pinned_environment() -> None:
    config = config_from_yaml("environment:\n  account: '123456789012'\n  region: eu-west-1\nnetwork:\n  az_count: 3\n")
    assert config.network.az_count == 3


def test_fails_if_principal_arn_is_invalid() -> None:
    error = error_for("personas:\n  ml_engineer:\n    - arn:aws:iam::12345:role/Eng\n")
    assert error.field == "personas.ml_engineer[0]"
    assert error.line == 3
    assert "not an IAM principal ARN" in str(error)


def test_fails_if_persona_is_unknown() -> None:
    error = error_for("personas:\n  wizard: []\n")
    assert "unknown key 'wizard'" in str(error)
    assert "data_scientist" in str(error)


@pytest.mark.parametrize("prefix", ["A", "Mlops", "ml_ops", "1abc", "x" * 21, "ab-", "a--b"])
def test_fails_if_prefix_is_not_a_valid_name(prefix: str) -> None:
    error = error_for(f"prefix: '{prefix}'\n")
    assert error.field == "prefix"
    assert "lowercase letters" in str(error)


def test_fails_if_region_does_not_exist() -> None:
    error = error_for("environment:\n  account: '123456789012'\n  region: eu-middle-9\n")
    assert error.field == "environment.region"
    assert "not an AWS region" in str(error)


def test_fails_if_account_is_not_twelve_digits() -> None:
    error = error_for("environment:\n  account: '1234'\n  region: eu-west-1\n")
    assert error.field == "environment.account"
    assert "12 digits" in str(error)


def test_fails_if_endpoint_is_unknown() -> None:
    error = error_for("network:\n  interface_endpoints:\n    add: [sts, s3express]\n")
    assert error.field == "network.interface_endpoints.add[1]"
    assert "'sagemaker_api'" in str(error)


def test_fails_if_endpoint_is_listed_twice() -> None:
    error = error_for("network:\n  interface_endpoints:\n    remove: [sts, sts]\n")
    assert "listed twice" in str(error)


def test_fails_if_endpoints_are_given_as_the_old_full_list() -> None:
    error = error_for("network:\n  interface_endpoints: [sts, logs]\n")
    assert error.field == "network.interface_endpoints"
    assert "{add: [...], remove: [...]}" in str(error)


def test_fails_if_an_endpoint_is_added_and_removed() -> None:
    error = error_for("network:\n  interface_endpoints:\n    add: [kms]\n    remove: [kms]\n")
    assert error.field == "network.interface_endpoints.remove"


def test_fails_if_endpoints_span_more_zones_than_the_vpc() -> None:
    error = error_for("network:\n  az_count: 1\n  endpoint_az_count: 2\n")
    assert error.field == "network.endpoint_az_count"
    assert "at most az_count (1)" in str(error)


def test_fails_if_key_appears_twice() -> None:
    error = error_for("prefix: a1\nprefix: b2\n")
    assert error.line == 2
    assert "appears twice" in str(error)


def test_fails_if_log_retention_is_not_a_cloudwatch_value() -> None:
    error = error_for("audit:\n  log_retention_days: 100\n")
    assert error.field == "audit.log_retention_days"
    assert "365" in str(error)


def test_fails_if_projects_are_written_inline() -> None:
    error = error_for("projects: []\n")
    assert error.field == "projects"
    assert "projects/<name>.yaml" in str(error)


def test_fails_if_tag_key_is_reserved() -> None:
    error = error_for("tags:\n  'aws:owner': me\n")
    assert error.field == "tags.aws:owner"


def test_the_shipped_file_has_no_unknown_sections() -> None:
    text = (ROOT / "kit.yaml").read_text()
    loaded = load_config(ROOT / "kit.yaml")
    assert [p.name for p in loaded.projects] == ["credit-risk"]
    assert loaded.model_copy(update={"projects": ()}) == config_from_yaml(text)


def test_committed_json_schema_is_current() -> None:
    from mlops_kit.config import json_schema_text

    assert (ROOT / "kit.schema.json").read_text() == json_schema_text(), "run `mlops-kit schema` and commit kit.schema.json"


def test_fails_if_availability_zones_do_not_match_az_count() -> None:
    error = error_for("network:\n  az_count: 2\n  availability_zones: [eu-west-1a]\n")
    assert error.field == "network.availability_zones"
    assert "az_count is 2" in str(error)


def test_fails_if_availability_zone_name_is_invalid() -> None:
    error = error_for("network:\n  az_count: 1\n  availability_zones: [west]\n")
    assert error.field == "network.availability_zones"


# --- a project's build section -------------------------------------------------------------

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
THREE_ACCOUNTS = ROOT / "tests" / "configs" / "three-accounts" / "kit.yaml"


def project_with_build(tmp_path: Path, build: str, kit: Path = ROOT / "kit.yaml") -> Path:
    """A kit folder whose one project file ends with ``build``; returns its kit.yaml."""
    (tmp_path / "projects").mkdir()
    (tmp_path / "kit.yaml").write_text(kit.read_text())
    (tmp_path / "projects" / "churn.yaml").write_text(f"name: churn\ntemplate: tabular-training\n{build}")
    return tmp_path / "kit.yaml"


def test_own_repository_without_a_connection_names_the_field_when_delivery_has_none(tmp_path: Path) -> None:
    kit = project_with_build(tmp_path, "build:\n  repository: team/churn-models\n")
    with pytest.raises(ConfigError) as caught:
        load_config(kit)
    assert caught.value.field == "build.connection_arn"
    assert str(caught.value).startswith(f"{tmp_path / 'projects' / 'churn.yaml'}:4: build.connection_arn: required with build.repository")


def test_own_repository_uses_the_kit_connection_when_delivery_has_one(tmp_path: Path) -> None:
    kit = project_with_build(tmp_path, "build:\n  repository: team/churn-models\n  branch: release\n", kit=THREE_ACCOUNTS)
    build = load_config(kit).projects[0].build
    assert (build.repository, build.branch, build.connection_arn) == ("team/churn-models", "release", None)


@pytest.mark.parametrize(
    ("build", "field", "allowed"),
    [
        ("build:\n  branch: release\n", "build.branch", "only with build.repository"),
        (f"build:\n  connection_arn: {CONNECTION}\n", "build.connection_arn", "only with build.repository"),
        ("build:\n  repository: churn-models\n", "build.repository", "<owner>/<repository>"),
        ("build:\n  repository: team/churn\n  connection_arn: arn:aws:codecommit:eu-west-1:1:x\n", "build.connection_arn", "CodeConnections"),
        ("build:\n  start_run: sometimes\n", "build.start_run", "bool"),
    ],
)
def test_build_section_mistakes_name_file_and_field(tmp_path: Path, build: str, field: str, allowed: str) -> None:
    kit = project_with_build(tmp_path, build)
    with pytest.raises(ConfigError) as caught:
        load_config(kit)
    assert caught.value.field == field
    assert str(caught.value).startswith(str(tmp_path / "projects" / "churn.yaml"))
    assert allowed in str(caught.value)


@pytest.mark.parametrize("text", ["", "# prefix: team\n\n# network: {}\n"])
def test_fails_if_kit_yaml_is_empty_or_only_comments(tmp_path: Path, text: str) -> None:
    # A fully default platform synthesizes, so a truncated file must not pass silently.
    path = tmp_path / "kit.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: the file is empty (or holds only comments): write at least `prefix: <name>` to use the defaults"
    )


def test_fails_if_account_is_unquoted_and_says_to_quote_it() -> None:
    error = error_for("environment:\n  account: 123456789012\n  region: us-east-1\n")
    assert str(error) == (
        'kit.yaml:2: environment.account: got 123456789012: an AWS account ID must be quoted: write "123456789012" '
        "(YAML reads unquoted digits as a number)"
    )


def test_allowed_top_level_keys_leave_out_the_loader_filled_projects() -> None:
    error = error_for("prefixx: team\n")
    assert str(error).endswith(
        "allowed keys: prefix, environment, network, personas, audit, shared_assets, delivery, budget, tags"
    )
