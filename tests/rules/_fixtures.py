"""Small stacks holding one compliant and one non-compliant resource per rule, and what the pack says about them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import Aspects
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from mlops_kit.rules import KitSageMakerChecks

ROLE = "arn:aws:iam::123456789012:role/execution"
_FINDING = re.compile(r"^(KitSageMaker-\w+)(?:\[(.*?)\])?:")


class Platform:
    """The platform pieces a compliant resource refers to: key, VPC, subnets, security group, bucket."""

    def __init__(self, stack: cdk.Stack) -> None:
        self.key = kms.Key(stack, "Key")
        self.vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ])
        self.group = ec2.SecurityGroup(stack, "Workload", vpc=self.vpc)
        self.bucket = s3.Bucket(stack, "Artifacts", encryption_key=self.key)
        self.role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))

    @property
    def subnets(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.vpc.isolated_subnets]

    @property
    def vpc_config(self) -> dict[str, object]:
        """VpcConfig as CloudFormation and the SageMaker API spell it."""
        return {"SecurityGroupIds": [self.group.security_group_id], "Subnets": self.subnets}


def findings_of(build: Callable[[cdk.Stack, Platform], None]) -> dict[str, set[str]]:
    """``{construct id: {"Rule[finding]", ...}}`` for every KitSageMaker error in a stack built by ``build``."""
    app = cdk.App()
    stack = cdk.Stack(app, "Fixture", env=cdk.Environment(account="123456789012", region="us-east-1"))
    build(stack, Platform(stack))
    Aspects.of(app).add(KitSageMakerChecks())
    found: dict[str, set[str]] = defaultdict(set)
    for message in Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("KitSageMaker-")):
        match = _FINDING.match(str(message.entry.data))
        assert match, message.entry.data
        rule = match.group(1).removeprefix("KitSageMaker-")
        found[message.id.split("/")[2]].add(f"{rule}[{match.group(2)}]" if match.group(2) else rule)
    return dict(found)


def definition_json(steps: list[dict[str, object]]) -> str:
    return json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps})
