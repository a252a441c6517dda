"""Experiment tracking: a serverless SageMaker MLflow App, or a managed MLflow tracking server.

Facts AWS imposes, checked in its documentation:
- ``AWS::SageMaker::MlflowApp`` takes a name, an artifact store URI and a role; its name is not
  part of its ARN (``arn:...:mlflow-app/<id>``), so grants name the app's ARN attribute, never
  a name pattern (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMlflowApp.html,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreatePresignedMlflowAppUrl.html).
- MLflow API calls are authorised as ``sagemaker-mlflow:*`` actions on the app or tracking server
  resource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html).
- A tracking server bills per hour by size whether used or not; an MLflow App has no idle compute
  charge (https://aws.amazon.com/sagemaker/ai/pricing/).

Both modes write artifacts under the same prefix of the same (retained) artifacts bucket and use
the same role, so switching modes keeps every artifact; the server keeps its construct ID
``Resource`` and the app is ``App`` (a logical ID cannot change resource type).
"""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from mlops_kit.constructs.shared_data import (
    KMS_GRANT_ACTION_FINDINGS,
    S3_GRANT_ACTION_FINDINGS,
    object_finding,
)
from mlops_kit.errors import KitError
from mlops_kit.nag import suppress

SIZES = ("Small", "Medium", "Large")
MODES = ("app", "server")


class ExperimentTracking(Construct):
    """A serverless MLflow App (``mode="app"``, the default) or tracking server named ``<prefix>-mlflow``.

    Artifacts go to ``artifact_bucket`` under ``artifact_prefix`` (default ``mlflow/``),
    encrypted with the bucket's kit key. The server gets its own role, limited to that
    prefix. Size defaults to Small; automatic registration into the Model Registry is off
    (projects register on purpose, from their pipelines). ``size`` and ``mlflow_version``
    apply to the server only. Both hold run metadata, so they are retained when the stack is deleted.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        mode: str = "app",
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        size: str | None = None,
        artifact_prefix: str = "mlflow/",
        mlflow_version: str | None = None,
        weekly_maintenance_window: str | None = None,
        permissions_boundary: iam.IManagedPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if mode not in MODES:
            raise KitError(f"MLflow mode {mode!r} does not exist; allowed: {', '.join(MODES)}")
        if mode == "app" and (size is not None or mlflow_version is not None):
            raise KitError("MLflow size and mlflow_version apply to a tracking server only (mode='server')")
        size = size or "Small"
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
        self.mode = mode
        artifact_store_uri = artifact_bucket.s3_url_for_object(artifact_prefix.rstrip("/"))
        self.resource: cdk.CfnResource
        if mode == "server":
            server = sagemaker.CfnMlflowTrackingServer(
                self,
                "Resource",
                tracking_server_name=self.tracking_server_name,
                artifact_store_uri=artifact_store_uri,
                role_arn=self.role.role_arn,
                tracking_server_size=size,
                automatic_model_registration=False,
                mlflow_version=mlflow_version,
                weekly_maintenance_window_start=weekly_maintenance_window,
            )
            self.resource, self.arn = server, server.attr_tracking_server_arn
        else:
            app = sagemaker.CfnMlflowApp(
                self,
                "App",
                name=self.tracking_server_name,
                artifact_store_uri=artifact_store_uri,
                role_arn=self.role.role_arn,
                model_registration_mode="AutoModelRegistrationDisabled",
                weekly_maintenance_window_start=weekly_maintenance_window,
            )
            self.resource, self.arn = app, app.attr_arn
        self.resource.apply_removal_policy(RemovalPolicy.RETAIN)
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.resource.node.add_dependency(policy)
        # Kept for callers of the server-only name.
        self.tracking_server_arn = self.arn
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "The MLflow App or tracking server reads and writes objects under its own prefix of the artifacts bucket, "
            "and uses data-key variants of the kit's key",
            applies_to=[*S3_GRANT_ACTION_FINDINGS, *KMS_GRANT_ACTION_FINDINGS, object_finding(artifact_bucket, f"{artifact_prefix}*")],
            children=True,
        )

    def grant_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Open the MLflow UI and log runs to this app or server (its exact ARN)."""
        kind = "TrackingServer" if self.mode == "server" else "App"
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[f"sagemaker:CreatePresignedMlflow{kind}Url", f"sagemaker:DescribeMlflow{kind}", "sagemaker-mlflow:*"],
            resource_arns=[self.arn],
        )
        if hasattr(grantee, "node"):  # a role or user (imported roles are jsii proxies, not Construct subclasses)
            suppress(
                cast(IConstruct, grantee),
                "AwsSolutions-IAM5",
                "sagemaker-mlflow:* is MLflow's own API (runs, metrics, models) on this one app or server's exact ARN",
                applies_to=["Action::sagemaker-mlflow:*"],
                children=True,
            )
        return grant

