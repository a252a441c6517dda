"""A one-construct CDK app: the kit's ``ModelDeployment`` (deploy flow) and what it needs, nothing else.

Two stacks: ``FlowInstance`` (the default, instance-backed staging) and ``FlowServerless``
(staging on serverless inference, the explicit choice). Synthesized once per session; the
instance stack is deployed to the embedded AWS by the flow tests.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from mlops_kit.constructs.deployment_steps import ProductionSettings, StagingSettings
from mlops_kit.constructs.model_deployment import ModelDeployment

GROUP = "flow-test-models"
BASE = "flow-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _stack(app: cdk.App, name: str, staging: StagingSettings) -> cdk.Stack:
    stack = cdk.Stack(app, name, env=cdk.Environment(account="123456789012", region="us-east-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    bucket = s3.Bucket(stack, "Capture", encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
    role = iam.Role(stack, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    ModelDeployment(
        stack,
        "Deployment",
        endpoint_base=BASE,
        model_package_group_name=GROUP,
        execution_role=role,
        encryption_key=key,
        capture_bucket=bucket,
        subnet_ids=["subnet-0a", "subnet-0b"],
        security_group_ids=["sg-0a"],
        staging=staging,
        production=ProductionSettings(rollout="all-at-once"),
    )
    return stack


def build(outdir: Path) -> Path:
    app = cdk.App(outdir=str(outdir))
    _stack(app, "FlowInstance", StagingSettings())
    _stack(app, "FlowServerless", StagingSettings(endpoint_type="serverless"))
    app.synth()
    return outdir
