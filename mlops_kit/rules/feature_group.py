"""KitSageMaker-FeatureGroupKms: a feature group's offline and online stores use the kit's KMS key.

``OfflineStoreConfig.S3StorageConfig.KmsKeyId`` encrypts the offline store's Parquet files in
S3; ``OnlineStoreConfig.SecurityConfig.KmsKeyId`` encrypts the online store, which otherwise
uses an AWS-owned key. Both are create-only: a feature group made without them must be
replaced (and loses its online data) to gain them.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-featuregroup-s3storageconfig.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-featuregroup-onlinestoresecurityconfig.html)

Tokens: a key that resolves to an intrinsic (the kit's key, often through ``Fn::ImportValue``)
counts as set; an online store counts as enabled unless ``EnableOnlineStore`` is literally false.
"""

from __future__ import annotations

from aws_cdk import CfnResource

from mlops_kit.rules._base import Result, Rule, dig, findings, is_false, present, properties


def check(node: CfnResource) -> Result:
    props = properties(node)
    missing = []
    offline = props.get("OfflineStoreConfig")
    if offline is not None and not present(dig(offline, "S3StorageConfig", "KmsKeyId")):
        missing.append("OfflineStoreConfig/S3StorageConfig/KmsKeyId")
    online = props.get("OnlineStoreConfig")
    if online is not None and not is_false(dig(online, "EnableOnlineStore")) and not present(dig(online, "SecurityConfig", "KmsKeyId")):
        missing.append("OnlineStoreConfig/SecurityConfig/KmsKeyId")
    return findings(missing)


RULE = Rule(
    id="FeatureGroupKms",
    resource_types=frozenset({"AWS::SageMaker::FeatureGroup"}),
    info="A feature group's offline store or enabled online store has no customer-managed KMS key.",
    explanation=(
        "Feature values are training and inference data; without a customer-managed key their encryption is outside "
        "the platform's key policy and audit, and the setting cannot be added later without replacing the group. "
        "Fix: set offline_store_config.s3_storage_config.kms_key_id and, when the online store is enabled, "
        "online_store_config.security_config.kms_key_id to the kit's data key (the kit's FeatureStore construct does)."
    ),
    check=check,
)
