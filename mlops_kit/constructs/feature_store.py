"""SageMaker Feature Store: the offline store bucket, its Glue database and feature groups."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_kit.config.shared import FeatureGroupConfig
from mlops_kit.constructs.shared_data import (
    KMS_GRANT_ACTION_FINDINGS,
    S3_GRANT_ACTION_FINDINGS,
    arn_finding,
    object_finding,
)
from mlops_kit.constructs.storage import SecureBucket
from mlops_kit.errors import KitError
from mlops_kit.nag import suppress

OFFLINE_PREFIX = "offline-store"
MAX_FEATURE_GROUP_NAME = 64


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def feature_group_name(prefix: str, name: str, version: int) -> str:
    """``<prefix>-<name>-v<version>``: versioned, because every property is create-only."""
    full = f"{prefix}-{name}-v{version}"
    if len(full) > MAX_FEATURE_GROUP_NAME:
        raise KitError(
            f"feature group {name!r}: the name {full!r} is {len(full)} characters; SageMaker allows "
            f"{MAX_FEATURE_GROUP_NAME}. Shorten the group name or the kit prefix"
        )
    return full


class FeatureStore(Construct):
    """An encrypted offline store and the feature groups declared in ``kit.yaml``.

    Defaults: offline store in a kit bucket (``SecureBucket``: KMS, versioned, private,
    TLS-only, retained) under ``offline-store/``, registered in a Glue database
    ``<prefix>_feature_store``; feature groups named ``<prefix>-<name>-v<version>``,
    retained on deletion (a replaced group loses its online data), online store off unless
    asked for and then encrypted with ``encryption_key``. ``grant_read`` and
    ``grant_ingest`` give least-privilege access to one group or to all of them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        encryption_key: kms.IKey,
        access_logs_bucket: s3.IBucket,
        feature_groups: Sequence[FeatureGroupConfig] = (),
        permissions_boundary: iam.IManagedPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.encryption_key = encryption_key
        self.offline_bucket = SecureBucket(
            self, "OfflineStoreBucket", encryption_key=encryption_key, access_logs_bucket=access_logs_bucket, log_prefix="feature-store"
        ).bucket
        self.database_name = f"{prefix.replace('-', '_')}_feature_store"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description=f"{prefix}: Feature Store offline store tables"
            ),
        )
        self.database.apply_removal_policy(RemovalPolicy.RETAIN)
        stack = Stack.of(self)
        self.catalog_arn = stack.format_arn(service="glue", resource="catalog")
        self.database_arn = stack.format_arn(service="glue", resource="database", resource_name=self.database_name)
        self.tables_arn = stack.format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/*")

        # The role SageMaker uses to write the offline store and its Glue tables.
        self.offline_store_role = iam.Role(
            self,
            "OfflineStoreRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{prefix}: Feature Store writes the offline store and its Glue tables",
            permissions_boundary=permissions_boundary,
        )
        self.offline_bucket.grant_read_write(self.offline_store_role, f"{OFFLINE_PREFIX}/*")
        self.offline_store_role.add_to_principal_policy(
            iam.PolicyStatement(sid="OfflineStoreBucketAcl", actions=["s3:GetBucketAcl", "s3:PutObjectAcl"], resources=[self.offline_bucket.bucket_arn, self.offline_bucket.arn_for_objects(f"{OFFLINE_PREFIX}/*")])
        )
        self.offline_store_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="OfflineStoreGlueTables",
                actions=["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:GetPartitions", "glue:BatchCreatePartition"],
                resources=[self.catalog_arn, self.database_arn, self.tables_arn],
            )
        )
        suppress(
            self.offline_store_role,
            "AwsSolutions-IAM5",
            "Feature Store writes objects under the offline store prefix of its own bucket and tables of its "
            "own Glue database; KMS data-key variants on the kit's data key",
            applies_to=[
                *S3_GRANT_ACTION_FINDINGS, *KMS_GRANT_ACTION_FINDINGS,
                object_finding(self.offline_bucket, f"{OFFLINE_PREFIX}/*"),
                arn_finding(self, self.tables_arn),
            ],
            children=True,
        )
        self.feature_groups: dict[str, sagemaker.CfnFeatureGroup] = {}
        for group in feature_groups:
            self.add_feature_group(group)

    def add_feature_group(self, spec: FeatureGroupConfig) -> sagemaker.CfnFeatureGroup:
        """One feature group from its validated declaration; returns the L1 resource."""
        name = feature_group_name(self.prefix, spec.name, spec.version)
        if name in self.feature_groups:
            raise KitError(f"feature group {name!r} is declared twice; declare each name and version once")
        # The L1 types these two properties as raw JSON: keys are written as CloudFormation spells them.
        offline: dict[str, object] | None = None
        if spec.offline_store:
            offline = {
                "S3StorageConfig": {"S3Uri": self.offline_bucket.s3_url_for_object(OFFLINE_PREFIX), "KmsKeyId": self.encryption_key.key_arn},
                "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": self.database_name, "TableName": name.replace("-", "_")},
                "DisableGlueTableCreation": False,
                "TableFormat": spec.table_format,
            }
        online: dict[str, object] | None = None
        if spec.online_store:
            online = {"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": self.encryption_key.key_arn}}
        group = sagemaker.CfnFeatureGroup(
            self,
            f"FeatureGroup{pascal(spec.name)}V{spec.version}",
            feature_group_name=name,
            description=spec.description,
            record_identifier_feature_name=spec.record_identifier,
            event_time_feature_name=spec.event_time,
            feature_definitions=[
                sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(feature_name=f.name, feature_type=f.type) for f in spec.features
            ],
            offline_store_config=offline,
            online_store_config=online,
            role_arn=self.offline_store_role.role_arn if spec.offline_store else None,
        )
        group.apply_removal_policy(RemovalPolicy.RETAIN)
        group.add_resource_dependency(self.database)
        policy = self.offline_store_role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            group.node.add_dependency(policy)
        self.feature_groups[name] = group
        return group

    def _group_names(self, feature_group: str | None) -> list[str]:
        if feature_group is None and not self.feature_groups:
            raise KitError("the feature store has no feature groups yet; declare one before granting access to all of them")
        return list(self.feature_groups) if feature_group is None else [self._full_name(feature_group)]

    def _group_arn(self, name: str) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource="feature-group", resource_name=name)

    def _full_name(self, feature_group: str) -> str:
        if feature_group in self.feature_groups:
            return feature_group
        matches = [n for n in self.feature_groups if n.startswith(f"{self.prefix}-{feature_group}-v")]
        if not matches:
            raise KitError(f"unknown feature group {feature_group!r}; declared: {', '.join(self.feature_groups) or 'none'}")
        return max(matches, key=lambda n: int(n.rsplit("-v", 1)[1]))

    def grant_read(self, grantee: iam.IGrantable, feature_group: str | None = None) -> iam.Grant:
        """Read one feature group (latest version of that name) or all: online records, offline tables."""
        names = self._group_names(feature_group)
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeFeatureGroup", "sagemaker:GetRecord", "sagemaker:BatchGetRecord"],
            resource_arns=[self._group_arn(n) for n in names],
        )
        tables = [self._table_arn(n) for n in names]
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
            resource_arns=[self.catalog_arn, self.database_arn, *tables],
        )
        self.offline_bucket.grant_read(grantee, f"{OFFLINE_PREFIX}/*")
        return grant

    def grant_ingest(self, grantee: iam.IGrantable, feature_group: str | None = None) -> iam.Grant:
        """Put records into one feature group (latest version of that name) or all."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeFeatureGroup", "sagemaker:PutRecord"],
            resource_arns=[self._group_arn(n) for n in self._group_names(feature_group)],
        )
        self.encryption_key.grant_encrypt_decrypt(grantee)
        return grant

    def _table_arn(self, name: str) -> str:
        """The group's own Glue table (its name with underscores)."""
        return Stack.of(self).format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/{name.replace('-', '_')}")
