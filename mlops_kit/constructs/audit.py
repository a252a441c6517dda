"""Audit trail: the access-log bucket and, behind a switch, CloudTrail data events."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_kit.nag import suppress, suppress_replication


class Audit(Construct):
    """Where the platform's access logs and (optionally) object-level audit events go.

    S3 server access logs can only be written to a bucket with SSE-S3 encryption, so the
    access-log bucket alone uses S3-managed keys; everything else uses the kit's KMS keys.
    CloudTrail data events are off by default because most organisations run an
    organisation trail; ``data_events_bucket_prefix`` limits them to the kit's buckets
    (their generated names start with the kit's stack names, hence the prefix).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        expiration_days: int,
        logs_key: kms.IKey,
        data_events: bool,
        data_events_bucket_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(expiration_days),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Buckets of other kit stacks import this bucket by name and cannot add to its policy;
        # S3 server access logging from any bucket of this account is admitted here instead.
        self.access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServerAccessLogsFromThisAccount",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs_bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        suppress(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket itself; logging it into itself would loop, and its objects are "
            "covered by CloudTrail data events when enabled",
        )
        suppress(
            self.access_logs_bucket,
            "NIST.800.53.R5-S3BucketLoggingEnabled",
            "This is the access-log bucket itself; logging it into itself would loop",
        )
        suppress(
            self.access_logs_bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging delivers only to a destination bucket with SSE-S3, not SSE-KMS "
            "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html)",
        )
        suppress_replication(self.access_logs_bucket)
        self.trail: cloudtrail.Trail | None = None
        if data_events:
            trail_bucket = s3.Bucket(
                self,
                "TrailBucket",
                encryption=s3.BucketEncryption.KMS,
                encryption_key=logs_key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                versioned=True,
                server_access_logs_bucket=self.access_logs_bucket,
                server_access_logs_prefix="trail/",
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.trail = cloudtrail.Trail(
                self,
                "DataEventsTrail",
                bucket=trail_bucket,
                encryption_key=logs_key,
                enable_file_validation=True,
                include_global_service_events=False,
                is_multi_region_trail=False,
                management_events=cloudtrail.ReadWriteType.NONE,
            )
            # The L2 trail insists on a basic event selector when management events are off,
            # but basic selectors cannot match a bucket-name prefix: the advanced selector
            # below replaces it in the template.
            self.trail.add_event_selector(
                cloudtrail.DataResourceType.S3_OBJECT, ["arn:aws:s3"], include_management_events=False
            )
            cfn_trail = self.trail.node.default_child
            assert isinstance(cfn_trail, cloudtrail.CfnTrail)
            cfn_trail.advanced_event_selectors = [
                cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                    name="Object-level events on the kit's buckets",
                    field_selectors=[
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="eventCategory", equal_to=["Data"]),
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="resources.type", equal_to=["AWS::S3::Object"]),
                        cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                            field="resources.ARN", starts_with=[f"arn:aws:s3:::{data_events_bucket_prefix}"]
                        ),
                    ],
                )
            ]
            cfn_trail.add_property_deletion_override("EventSelectors")
