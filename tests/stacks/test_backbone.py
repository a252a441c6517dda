"""The Backbone stack of the shipped configuration, synthesized once."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from mlops_kit.config import KitConfig
from tests.conftest import nag_problems


@pytest.fixture(scope="module")
def backbone(stack_of: Callable[[str], cdk.Stack]) -> cdk.Stack:
    return stack_of("Backbone")


@pytest.fixture(scope="module")
def template(backbone: cdk.Stack) -> Template:
    return Template.from_stack(backbone)


def test_backbone_is_nag_clean(backbone: cdk.Stack) -> None:
    assert nag_problems(backbone) == []


def test_no_internet_path_by_default(template: Template, default_config: KitConfig) -> None:
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::VPCEndpoint", len(default_config.interface_endpoint_names()) + 1)


def test_keys_and_buckets_are_retained(template: Template) -> None:
    for kind in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup"):
        resources = template.find_resources(kind)
        assert resources, kind
        for logical_id, resource in resources.items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id


def test_every_role_carries_the_permission_boundary(template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    assert [lid for lid, role in roles.items() if "PermissionsBoundary" not in role["Properties"]] == []


def test_data_key_policy_names_the_execution_role(template: Template) -> None:
    template.has_resource_properties("AWS::KMS::Key", {
        "Description": "mlops: SageMaker data, artifacts, volumes and Studio storage",
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Sid": "SageMakerExecutionRole",
            "Action": Match.array_with(["kms:CreateGrant"]),
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        })])},
    })


def test_platform_parameters_are_published_for_independent_stacks(template: Template) -> None:
    for key in ("vpc-id", "private-subnet-ids", "data-key-arn", "execution-role-arn", "access-logs-bucket-name"):
        template.has_resource_properties("AWS::SSM::Parameter", {"Name": f"/mlops/platform/{key}", "Type": "String"})


def test_resources_carry_the_platform_tags(template: Template) -> None:
    template.has_resource_properties("AWS::EC2::VPC", {
        "Tags": Match.array_with([{"Key": "cost-center", "Value": "ml-platform"}, {"Key": "kit:platform", "Value": "mlops"}]),
    })
