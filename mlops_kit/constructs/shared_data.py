"""The platform's shared buckets: datasets (raw and curated zones) and artifacts."""

from __future__ import annotations

from typing import Literal

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from mlops_kit.constructs.storage import SecureBucket

Zone = Literal["raw", "curated"]
ZONES: tuple[Zone, ...] = ("raw", "curated")


# The wildcard findings (cdk-nag AwsSolutions-IAM5) of CDK's bucket and key grant methods.
S3_GRANT_ACTION_FINDINGS = ["Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*"]
KMS_GRANT_ACTION_FINDINGS = ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]


def arn_finding(scope: IConstruct, arn: str) -> str:
    """cdk-nag's text for a resource ARN (``Resource::...``), for a narrow ``applies_to``.

    cdk-nag renders pseudo parameters as ``<AWS::Region>`` and attributes as ``<Logical.Arn>``;
    with a concrete environment CDK has already put the literal values in.
    """
    return "Resource::" + _render(Stack.of(scope).resolve(arn))


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return f"<{logical}.{attribute}>"
    return str(value)


def object_finding(bucket: s3.IBucket, pattern: str) -> str:
    """cdk-nag's text for the resource ``<bucket ARN>/<pattern>``."""
    return arn_finding(bucket, bucket.arn_for_objects(pattern))


def zone_prefix(zone: Zone) -> str:
    """The key prefix of a datasets zone: ``raw/`` or ``curated/``."""
    if zone not in ZONES:
        raise ValueError(f"unknown datasets zone {zone!r}; allowed: {', '.join(ZONES)}")
    return f"{zone}/"


class SharedData(Construct):
    """Two kit buckets (see ``SecureBucket`` for their defaults) and zone-scoped grants.

    ``datasets`` holds ``raw/`` (landed as received, moved to Standard-IA after
    ``raw_infrequent_access_days``, default 90) and ``curated/`` (cleaned, what pipelines
    read). ``artifacts`` holds pipeline outputs, model artifacts, MLflow artifacts and shared
    notebooks. Both log access to ``access_logs_bucket`` and are retained on stack deletion.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        access_logs_bucket: s3.IBucket,
        noncurrent_days: int = 90,
        raw_infrequent_access_days: int | None = 90,
    ) -> None:
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        self.datasets_bucket = SecureBucket(
            self, "DatasetsBucket", encryption_key=encryption_key, access_logs_bucket=access_logs_bucket,
            log_prefix="datasets", noncurrent_days=noncurrent_days,
        ).bucket
        if raw_infrequent_access_days is not None:
            self.datasets_bucket.add_lifecycle_rule(
                id="RawToInfrequentAccess",
                prefix=zone_prefix("raw"),
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(raw_infrequent_access_days))
                ],
            )
        self.artifacts_bucket = SecureBucket(
            self, "ArtifactsBucket", encryption_key=encryption_key, access_logs_bucket=access_logs_bucket,
            log_prefix="artifacts", noncurrent_days=noncurrent_days,
        ).bucket

    def grant_read_datasets(self, grantee: iam.IGrantable, zone: Zone = "curated") -> iam.Grant:
        """Read one zone of the datasets bucket (default ``curated/``) and decrypt it."""
        return self.datasets_bucket.grant_read(grantee, f"{zone_prefix(zone)}*")

    def grant_write_datasets(self, grantee: iam.IGrantable, zone: Zone = "raw") -> iam.Grant:
        """Write (put, not delete) one zone of the datasets bucket, default ``raw/``."""
        return self.datasets_bucket.grant_put(grantee, f"{zone_prefix(zone)}*")

    def grant_read_artifacts(self, grantee: iam.IGrantable, prefix: str = "") -> iam.Grant:
        """Read artifacts, optionally only under ``prefix`` (e.g. ``projects/churn/``)."""
        return self.artifacts_bucket.grant_read(grantee, f"{prefix}*")

    def grant_read_write_artifacts(self, grantee: iam.IGrantable, prefix: str = "") -> iam.Grant:
        """Read and write artifacts, optionally only under ``prefix``."""
        return self.artifacts_bucket.grant_read_write(grantee, f"{prefix}*")
