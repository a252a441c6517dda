"""A one-construct CDK app: the kit's ``ModelDeployment`` (deploy flow) and what it needs, nothing else.

Three stacks: ``FlowInstance`` (the default, instance-backed staging), ``FlowServerless``
(staging on serverless inference, the explicit choice) and ``FlowMonitored`` (drift alarm and
model-quality monitoring configured). Synthesized once per session; the
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
from mlops_kit.constructs.monitoring_alarms import ModelQualitySettings

GROUP = "flow-test-models"
BASE = "flow-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


MODEL_QUALITY = ModelQualitySettings(
    ground_truth_s3_uri="s3://flow-truth/ground-truth/",
    problem_type="BinaryClassification",
    probability_threshold=0.5,
    thresholds={"accuracy": (0.75, "below"), "f1": (0.6, "below")},
)
DRIFT_FEATURES = ("customer_age", "plan")


def _stack(app: cdk.App, name: str, staging: StagingSettings, production: ProductionSettings | None = None) -> cdk.Stack:
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
        production=production or ProductionSettings(rollout="all-at-once"),
    )
    return stack


def build(outdir: Path) -> Path:
    app = cdk.App(outdir=str(outdir))
    _stack(app, "FlowInstance", StagingSettings())
    _stack(app, "FlowServerless", StagingSettings(endpoint_type="serverless"))
    _stack(
        app,
        "FlowMonitored",
        StagingSettings(),
        ProductionSettings(rollout="all-at-once", monitoring_schedule="hourly", drift_features=DRIFT_FEATURES, model_quality=MODEL_QUALITY),
    )
    app.synth()
    return outdir
