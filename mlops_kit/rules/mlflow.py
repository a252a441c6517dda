"""KitSageMaker-MlflowArtifacts: MLflow keeps its artifacts in a bucket of the kit, and registers no models by itself.

``ArtifactStoreUri`` of ``AWS::SageMaker::MlflowTrackingServer`` and of the serverless
``AWS::SageMaker::MlflowApp`` is where experiments' artifacts (models, data samples) land: a
bucket the app manages (``Ref`` to an ``AWS::S3::Bucket``, or an import of one from another of
its stacks) carries the kit's KMS key, TLS-only policy and retention; a literal ``s3://`` URI is a
bucket nobody here governs. Automatic model registration copies every logged MLflow model into
the SageMaker Model Registry, around the project's pipeline and approval: the tracking server's
``AutomaticModelRegistration`` defaults to false; the MlflowApp's ``ModelRegistrationMode``
default is documented both ways, so the rule asks for ``AutoModelRegistrationDisabled`` written out.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-mlflowtrackingserver.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMlflowApp.html)

Where registration is wanted, turn it on in the construct together with a suppression of this
finding that says so ("unless configured"). Tokens: an ``ArtifactStoreUri`` that joins an
intrinsic (``Ref``, ``Fn::GetAtt``, ``Fn::ImportValue``) counts as a kit bucket; an unresolved
registration flag counts as compliant.
"""

from __future__ import annotations

from aws_cdk import CfnResource

from mlops_kit.rules._base import Result, Rule, findings, is_runtime, is_true, properties

TRACKING_SERVER = "AWS::SageMaker::MlflowTrackingServer"
MLFLOW_APP = "AWS::SageMaker::MlflowApp"


def _references_resource(value: object) -> bool:
    if isinstance(value, dict) and "Fn::Join" in value:
        return any(is_runtime(part) for part in value["Fn::Join"][1])
    return is_runtime(value)


def check(node: CfnResource) -> Result:
    props = properties(node)
    missing = []
    if not _references_resource(props.get("ArtifactStoreUri")):
        missing.append("ArtifactStoreUri")
    if node.cfn_resource_type == TRACKING_SERVER:
        value = props.get("AutomaticModelRegistration")
        if value is not None and is_true(value) and not is_runtime(value):
            missing.append("AutomaticModelRegistration")
    else:
        mode = props.get("ModelRegistrationMode")
        if mode != "AutoModelRegistrationDisabled" and not is_runtime(mode):
            missing.append("ModelRegistrationMode")
    return findings(missing)


RULE = Rule(
    id="MlflowArtifacts",
    resource_types=frozenset({TRACKING_SERVER, MLFLOW_APP}),
    info="MLflow stores artifacts outside the kit's buckets, or registers models automatically.",
    explanation=(
        "MLflow artifacts are models and data samples: in a bucket the app does not manage they miss the kit's KMS "
        "key, TLS-only policy and retention. Automatic registration puts every logged model in the Model Registry "
        "without the project's pipeline or approval. Fix: point ArtifactStoreUri at a kit bucket "
        "(f's3://{bucket.bucket_name}/mlflow'), and leave registration off (AutomaticModelRegistration false, "
        "ModelRegistrationMode AutoModelRegistrationDisabled) unless the platform's configuration asks for it, "
        "then suppress this finding where it is switched on."
    ),
    check=check,
)
