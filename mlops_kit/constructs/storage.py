"""The one place where the kit's bucket defaults live."""

from __future__ import annotations

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_kit.nag import suppress_replication


class SecureBucket(Construct):
    """An S3 bucket encrypted with a kit KMS key, versioned, private, TLS-only and retained.

    Access logs go to ``access_logs_bucket`` under ``<log_prefix>/``. Noncurrent versions
    expire after ``noncurrent_days`` (default 90) so versioning does not grow without end.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        access_logs_bucket: s3.IBucket,
        log_prefix: str,
        noncurrent_days: int = 90,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Resource",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=f"{log_prefix}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        suppress_replication(self.bucket)
        if not isinstance(access_logs_bucket, s3.Bucket):
            Annotations.of(self).acknowledge_warning(
                "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
                "the backbone's access-log bucket policy admits server access logs from every bucket of the account",
            )
