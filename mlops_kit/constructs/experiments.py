"""Experiment tracking: a SageMaker managed MLflow tracking server."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_kit.constructs.shared_data import (
    KMS_GRANT_ACTION_FINDINGS,
    S3_GRANT_ACTION_FINDINGS,
    object_finding,
)
from mlops_kit.errors import KitError
from mlops_kit.nag import suppress

SIZES = ("Small", "Medium", "Large")


class ExperimentTracking(Construct):
    """A managed MLflow tracking server named ``<prefix>-mlflow``.

    Artifacts go to ``artifact_bucket`` under ``artifact_prefix`` (default ``mlflow/``),
    encrypted with the bucket's kit key. The server gets its own role, limited to that
    prefix. Size defaults to Small; automatic registration into the Model Registry is off
    (projects register on purpose, from their pipelines). The server holds run metadata,
    so it is retained when the stack is deleted.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        size: str = "Small",
        artifact_prefix: str = "mlflow/",
        mlflow_version: str | None = None,
        weekly_maintenance_window: str | None = None,
        permissions_boundary: iam.IManagedPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if size not in SIZES:
            raise KitError(f"MLflow tracking server size {size!r} does not exist; allowed: {', '.join(SIZES)}")
        if not artifact_prefix.endswith("/") or artifact_prefix.startswith("/"):
            raise KitError(f"artifact_prefix {artifact_prefix!r} must be a key prefix like 'mlflow/' (no leading '/', trailing '/')")
        self.tracking_server_name = f"{prefix}-mlflow"
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{prefix}: MLflow tracking server reads and writes its artifacts",
            permissions_boundary=permissions_boundary,
        )
        artifact_bucket.grant_read_write(self.role, f"{artifact_prefix}*")
        encryption_key.grant_encrypt_decrypt(self.role)
        self.resource = sagemaker.CfnMlflowTrackingServer(
            self,
            "Resource",
            tracking_server_name=self.tracking_server_name,
            artifact_store_uri=artifact_bucket.s3_url_for_object(artifact_prefix.rstrip("/")),
            role_arn=self.role.role_arn,
            tracking_server_size=size,
            automatic_model_registration=False,
            mlflow_version=mlflow_version,
            weekly_maintenance_window_start=weekly_maintenance_window,
        )
        self.resource.apply_removal_policy(RemovalPolicy.RETAIN)
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.resource.node.add_dependency(policy)
        self.tracking_server_arn = self.resource.attr_tracking_server_arn
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "The tracking server reads and writes objects under its own prefix of the artifacts bucket, "
            "and uses data-key variants of the kit's key",
            applies_to=[*S3_GRANT_ACTION_FINDINGS, *KMS_GRANT_ACTION_FINDINGS, object_finding(artifact_bucket, f"{artifact_prefix}*")],
            children=True,
        )

    def grant_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Open the MLflow UI and log runs to this server."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:DescribeMlflowTrackingServer", "sagemaker-mlflow:*"],
            resource_arns=[self.tracking_server_arn],
        )

