"""A small stand-in for the Backbone, so tier-2 constructs can be tested on their own (fast)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from mlops_kit.nag import apply_checks
from tests.conftest import feature_flags


@dataclass
class Base:
    app: cdk.App
    stack: cdk.Stack
    key: kms.Key
    logs_bucket: s3.IBucket
    role: iam.Role


def base_stack(*, nag: bool = True) -> Base:
    """A stack with a kit-like data key, access-log bucket and SageMaker execution role."""
    app = cdk.App(context=feature_flags())
    stack = cdk.Stack(app, "Tier2Test", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    key = kms.Key(stack, "DataKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    logs_bucket = s3.Bucket.from_bucket_name(stack, "AccessLogs", "kit-access-logs")
    role = iam.Role(stack, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    if nag:
        apply_checks(app)
    return Base(app, stack, key, logs_bucket, role)


def vpc(stack: cdk.Stack) -> ec2.Vpc:
    return ec2.Vpc(
        stack, "Vpc", max_azs=2, nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
