"""Interface endpoints follow the enabled features: the reason table and the Backbone stay in step."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from mlops_kit.config import KitConfig
from mlops_kit.config.backbone import INTERFACE_ENDPOINTS
from mlops_kit.platform import add_platform
from tests.conftest import config_from_yaml, joined

FEATURES = ("studio", "feature_store", "experiments")


def config_with(enabled: set[str], extra: str = "") -> KitConfig:
    experiments = "app" if "experiments" in enabled else "'off'"
    return config_from_yaml(
        "shared_assets:\n"
        f"  studio: {{enabled: {str('studio' in enabled).lower()}}}\n"
        f"  feature_store: {{enabled: {str('feature_store' in enabled).lower()}}}\n"
        f"  experiments: {{mode: {experiments}}}\n" + extra
    )


def services_in(template: Template) -> set[str]:
    """The interface endpoints' AWS service suffixes (``<prefix>.<region>.<service>``) in a Backbone template."""
    found = set()
    for resource in template.find_resources("AWS::EC2::VPCEndpoint").values():
        props = resource["Properties"]
        if props.get("VpcEndpointType") == "Interface":
            found.add(joined(props["ServiceName"], "REGION").split("REGION.", 1)[1])
    return found


def expected_services(names: list[str]) -> set[str]:
    return {INTERFACE_ENDPOINTS[name].service for name in names}


def backbone_template(config: KitConfig) -> Template:
    app = cdk.App()
    return Template.from_stack(add_platform(app, config).backbone)


@pytest.mark.parametrize("enabled", [set(c) for n in range(4) for c in itertools.combinations(FEATURES, n)], ids=str)
def test_each_feature_brings_exactly_the_endpoints_the_table_names(enabled: set[str]) -> None:
    names = config_with(enabled).interface_endpoint_names()
    assert {INTERFACE_ENDPOINTS[name].needed_by for name in names} == {"platform", *enabled}
    for name, spec in INTERFACE_ENDPOINTS.items():
        assert (name in names) == (spec.needed_by in {"platform", *enabled}), name


def test_feature_store_off_means_no_featurestore_runtime_and_mlflow_off_no_experiments() -> None:
    names = config_with({"studio"}).interface_endpoint_names()
    assert "featurestore_runtime" not in names and "experiments" not in names
    assert {"studio", "notebook"} <= set(names)


def test_every_endpoint_of_the_shipped_backbone_has_a_reason_and_an_enabled_feature(
    default_config: KitConfig, stack_of: Callable[[str], cdk.Stack]
) -> None:
    names = default_config.interface_endpoint_names()
    assert services_in(Template.from_stack(stack_of("Backbone"))) == expected_services(names)
    assert all(INTERFACE_ENDPOINTS[name].needed_by in default_config.enabled_features() for name in names)


def test_backbone_builds_what_the_table_says_with_add_and_remove_on_top() -> None:
    config = config_with(set(), "network:\n  interface_endpoints:\n    add: [kms, ssm]\n    remove: [monitoring]\n")
    names = config.interface_endpoint_names()
    assert {"kms", "ssm"} <= set(names) and "monitoring" not in names
    assert services_in(backbone_template(config)) == expected_services(names)


def test_endpoint_az_count_places_endpoints_in_fewer_zones_than_the_subnets() -> None:
    config = config_with({"studio"}, "network:\n  endpoint_az_count: 1\n")
    template = backbone_template(config)
    template.resource_count_is("AWS::EC2::Subnet", 2)
    for resource in template.find_resources("AWS::EC2::VPCEndpoint").values():
        if resource["Properties"].get("VpcEndpointType") == "Interface":
            assert len(resource["Properties"]["SubnetIds"]) == 1
