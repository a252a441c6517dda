"""SageMaker resources that moto's CloudFormation skips, created through the SageMaker API.

moto's CloudFormation knows only ``AWS::SageMaker::Model``, ``EndpointConfig``, ``Endpoint``,
``NotebookInstance`` and ``NotebookInstanceLifecycleConfig``; every other SageMaker type is
dropped with a log line and no error. For the types whose *service* API moto implements, the
deploy engine strips them from the template and calls that API here with the resource's
resolved properties (``deploy.py`` resolves the intrinsics, asking moto for the values of the
resources it created), then checks the result with a describe call:

==============================================  ==========================================
CloudFormation type                             moto API used (create / verify)
==============================================  ==========================================
AWS::SageMaker::Domain                          CreateDomain / DescribeDomain
AWS::SageMaker::FeatureGroup                    CreateFeatureGroup / DescribeFeatureGroup
AWS::SageMaker::ModelPackageGroup               CreateModelPackageGroup / Describe...
AWS::SageMaker::ModelPackage                    CreateModelPackage / DescribeModelPackage
AWS::SageMaker::Pipeline                        CreatePipeline / DescribePipeline
AWS::SageMaker::ModelCard                       CreateModelCard / DescribeModelCard
AWS::SageMaker::{DataQuality,ModelQuality,      Create...JobDefinition / Describe...
  ModelBias,ModelExplainability}JobDefinition
==============================================  ==========================================

Types moto has no API for (``UserProfile``, ``Space``, ``App``, ``MlflowTrackingServer``, ``MlflowApp``,
``Image``, ``ImageVersion``, ``AppImageConfig``, ``MonitoringSchedule``, ``Project``,
``StudioLifecycleConfig``, ``InferenceComponent``, ...) are reported *unchecked* with that
reason. So that resources referring to them still deploy, their ``Ref``/``Fn::GetAtt`` values are
predicted from their properties (the ARN and name AWS would give them); those predictions are
never presented as created resources.

Properties are mapped onto the API's input shape from botocore's service model: members the API
does not know are dropped (and listed in the resource's note), scalars are coerced to the
shape's type. CloudFormation and the SageMaker API share member names for these types, with the
few exceptions handled per type (pipeline definition, model card content, policies).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiOutcome:
    """What happened to one resource handled outside moto's CloudFormation."""

    logical_id: str
    cfn_type: str
    created: bool  # created through the SageMaker API and verified by a describe call
    ref: str  # the value ``Ref`` gives (real when created, predicted otherwise)
    attributes: dict[str, Any] = field(default_factory=dict)
    physical_id: str = ""
    reason: str = ""  # why it is unchecked or failed
    failed: bool = False
    notes: list[str] = field(default_factory=list)

    def value(self, attr: str | None) -> Any:
        if attr is None:
            return self.ref
        if attr in self.attributes:
            return self.attributes[attr]
        raise KeyError(f"{self.logical_id}.{attr}")


Context = Mapping[str, str]  # account_id, region


def _arn(ctx: Context, resource: str, name: str) -> str:
    return f"arn:aws:sagemaker:{ctx['region']}:{ctx['account_id']}:{resource}/{str(name).lower()}"


def _name(props: Mapping[str, Any], key: str, logical_id: str) -> str:
    value = props.get(key)
    # CloudFormation generates a name when none is given; a stable stand-in does here.
    return str(value) if value else f"{logical_id.lower()}-local"


# -- botocore shape mapping --------------------------------------------------------------------
def to_shape(value: Any, shape: Any, path: str, dropped: list[str]) -> Any:
    """``value`` reshaped for botocore ``shape``: unknown members dropped, scalars coerced."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            dropped.append(f"{path} (expected an object)")
            return None
        out: dict[str, Any] = {}
        for key, child in value.items():
            if key not in shape.members:
                dropped.append(f"{path}.{key}" if path else key)
                continue
            converted = to_shape(child, shape.members[key], f"{path}.{key}" if path else key, dropped)
            if converted is not None:
                out[key] = converted
        return out
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [to_shape(item, shape.member, f"{path}[]", dropped) for item in items]
    if kind == "map":
        if not isinstance(value, Mapping):
            return None
        return {str(k): to_shape(v, shape.value, f"{path}.{k}", dropped) for k, v in value.items()}
    if kind == "string":
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value


def api_params(client: Any, operation: str, props: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``props`` mapped onto the input of ``operation`` (e.g. ``CreateDomain``)."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    dropped: list[str] = []
    params = to_shape(dict(props), shape, "", dropped) or {}
    return params, dropped


# -- the handlers ------------------------------------------------------------------------------
Creator = Callable[[Any, str, dict[str, Any], Context], ApiOutcome]


def _create_model_package_group(
    client: Any, logical_id: str, props: dict[str, Any], ctx: Context
) -> ApiOutcome:
    notes = []
    if "ModelPackageGroupPolicy" in props:
        notes.append("ModelPackageGroupPolicy not applied: moto has no PutModelPackageGroupPolicy")
    params, dropped = api_params(client, "CreateModelPackageGroup", props)
    arn = client.create_model_package_group(**params)["ModelPackageGroupArn"]
    described = client.describe_model_package_group(ModelPackageGroupName=params["ModelPackageGroupName"])
    return ApiOutcome(
        logical_id,
        "AWS::SageMaker::ModelPackageGroup",
        created=described["ModelPackageGroupArn"] == arn,
        ref=arn,
        physical_id=arn,
        attributes={
            "ModelPackageGroupArn": arn,
            "ModelPackageGroupStatus": described.get("ModelPackageGroupStatus", "Completed"),
            "CreationTime": str(described.get("CreationTime", "")),
        },
        notes=notes + [f"dropped: {', '.join(dropped)}"] * bool(dropped),
    )


def _create_pipeline(client: Any, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    props = dict(props)
    definition = props.pop("PipelineDefinition", {}) or {}
    params, dropped = api_params(client, "CreatePipeline", props)
    if "PipelineDefinitionBody" in definition:
        body = definition["PipelineDefinitionBody"]
        params["PipelineDefinition"] = body if isinstance(body, str) else json.dumps(body)
    elif "PipelineDefinitionS3Location" in definition:
        location = definition["PipelineDefinitionS3Location"]
        params["PipelineDefinitionS3Location"] = {
            k: v
            for k, v in {
                "Bucket": location.get("Bucket"),
                "ObjectKey": location.get("Key"),
                "VersionId": location.get("Version"),
            }.items()
            if v
        }
    arn = client.create_pipeline(**params)["PipelineArn"]
    described = client.describe_pipeline(PipelineName=params["PipelineName"])
    return ApiOutcome(
        logical_id,
        "AWS::SageMaker::Pipeline",
        created=described["PipelineArn"] == arn,
        ref=params["PipelineName"],
        physical_id=arn,
        attributes={"PipelineArn": arn},
        notes=[f"dropped: {', '.join(dropped)}"] * bool(dropped),
    )


def _create_domain(client: Any, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    params, dropped = api_params(client, "CreateDomain", props)
    client.create_domain(**params)
    domain = next(
        (d for d in client.list_domains()["Domains"] if d["DomainName"] == params["DomainName"]), None
    )
    if domain is None:
        raise RuntimeError(f"domain {params['DomainName']} not listed after CreateDomain")
    described = client.describe_domain(DomainId=domain["DomainId"])
    attributes = {
        "DomainId": described["DomainId"],
        "DomainArn": described["DomainArn"],
        "Url": described.get("Url", ""),
        "HomeEfsFileSystemId": described.get("HomeEfsFileSystemId", ""),
        "SecurityGroupIdForDomainBoundary": described.get("SecurityGroupIdForDomainBoundary", ""),
        "SingleSignOnManagedApplicationInstanceId": described.get(
            "SingleSignOnManagedApplicationInstanceId", ""
        ),
        "SingleSignOnApplicationArn": described.get("SingleSignOnApplicationArn", ""),
    }
    return ApiOutcome(
        logical_id,
        "AWS::SageMaker::Domain",
        created=True,
        ref=described["DomainId"],
        physical_id=described["DomainArn"],
        attributes=attributes,
        notes=[f"dropped: {', '.join(dropped)}"] * bool(dropped),
    )


def _create_feature_group(client: Any, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    params, dropped = api_params(client, "CreateFeatureGroup", props)
    arn = client.create_feature_group(**params)["FeatureGroupArn"]
    described = client.describe_feature_group(FeatureGroupName=params["FeatureGroupName"])
    return ApiOutcome(
        logical_id,
        "AWS::SageMaker::FeatureGroup",
        created=described["FeatureGroupArn"] == arn,
        ref=params["FeatureGroupName"],
        physical_id=arn,
        attributes={
            "FeatureGroupArn": arn,
            "FeatureGroupStatus": described.get("FeatureGroupStatus", "Created"),
            "CreationTime": str(described.get("CreationTime", "")),
        },
        notes=[f"dropped: {', '.join(dropped)}"] * bool(dropped),
    )


def _create_model_package(client: Any, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    params, dropped = api_params(client, "CreateModelPackage", props)
    arn = client.create_model_package(**params)["ModelPackageArn"]
    described = client.describe_model_package(ModelPackageName=arn)
    return ApiOutcome(
        logical_id,
        "AWS::SageMaker::ModelPackage",
        created=described["ModelPackageArn"] == arn,
        ref=arn,
        physical_id=arn,
        attributes={
            "ModelPackageArn": arn,
            "ModelPackageStatus": described.get("ModelPackageStatus", ""),
            "CreationTime": str(described.get("CreationTime", "")),
        },
        notes=[f"dropped: {', '.join(dropped)}"] * bool(dropped),
    )


def _create_model_card(client: Any, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    props = dict(props)
    if isinstance(props.get("Content"), (dict, list)):
        props["Content"] = json.dumps(props["Content"])
    params, dropped = api_params(client, "CreateModelCard", props)
    arn = client.create_model_card(**params)["ModelCardArn"]
    described = client.describe_model_card(ModelCardName=params["ModelCardName"])
    return ApiOutcome(
        logical_id,
        "AWS::SageMaker::ModelCard",
        created=described["ModelCardArn"] == arn,
        ref=arn,
        physical_id=arn,
        attributes={"ModelCardArn": arn, "ModelCardVersion": described.get("ModelCardVersion", 1)},
        notes=[f"dropped: {', '.join(dropped)}"] * bool(dropped),
    )


def _job_definition(kind: str) -> Creator:
    cfn_type = f"AWS::SageMaker::{kind}JobDefinition"

    def create(client: Any, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
        props = dict(props)
        props.setdefault("JobDefinitionName", _name(props, "JobDefinitionName", logical_id))
        params, dropped = api_params(client, f"Create{kind}JobDefinition", props)
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
        arn = getattr(client, f"create_{snake}_job_definition")(**params)["JobDefinitionArn"]
        described = getattr(client, f"describe_{snake}_job_definition")(
            JobDefinitionName=params["JobDefinitionName"]
        )
        return ApiOutcome(
            logical_id,
            cfn_type,
            created=described["JobDefinitionArn"] == arn,
            ref=arn,
            physical_id=arn,
            attributes={"JobDefinitionArn": arn, "CreationTime": str(described.get("CreationTime", ""))},
            notes=[f"dropped: {', '.join(dropped)}"] * bool(dropped),
        )

    return create


CREATORS: dict[str, Creator] = {
    "AWS::SageMaker::Domain": _create_domain,
    "AWS::SageMaker::FeatureGroup": _create_feature_group,
    "AWS::SageMaker::ModelPackageGroup": _create_model_package_group,
    "AWS::SageMaker::ModelPackage": _create_model_package,
    "AWS::SageMaker::Pipeline": _create_pipeline,
    "AWS::SageMaker::ModelCard": _create_model_card,
    "AWS::SageMaker::DataQualityJobDefinition": _job_definition("DataQuality"),
    "AWS::SageMaker::ModelQualityJobDefinition": _job_definition("ModelQuality"),
    "AWS::SageMaker::ModelBiasJobDefinition": _job_definition("ModelBias"),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": _job_definition("ModelExplainability"),
}


# -- predictions for what moto cannot create ---------------------------------------------------
def _predict_user_profile(logical_id: str, p: Mapping[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
    name = _name(p, "UserProfileName", logical_id)
    arn = _arn(ctx, "user-profile", f"{p.get('DomainId', 'd-unknown')}/{name}")
    return arn, {"UserProfileArn": arn}


def _predict_space(logical_id: str, p: Mapping[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
    arn = _arn(ctx, "space", f"{p.get('DomainId', 'd-unknown')}/{_name(p, 'SpaceName', logical_id)}")
    return arn, {"SpaceArn": arn, "Url": ""}


def _predict_app(logical_id: str, p: Mapping[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
    owner = p.get("UserProfileName") or p.get("SpaceName") or "default"
    arn = _arn(
        ctx,
        "app",
        f"{p.get('DomainId', 'd-unknown')}/{owner}/{p.get('AppType', 'jupyterserver')}/{_name(p, 'AppName', logical_id)}",
    )
    return arn, {"AppArn": arn}


def _named(
    resource: str, name_key: str, arn_attr: str, ref_is_arn: bool, **extra: str
) -> Callable[[str, Mapping[str, Any], Context], tuple[str, dict[str, Any]]]:
    def predict(logical_id: str, p: Mapping[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
        name = _name(p, name_key, logical_id)
        arn = _arn(ctx, resource, name)
        attrs: dict[str, Any] = {arn_attr: arn, **extra}
        return (arn if ref_is_arn else name), attrs

    return predict


Predictor = Callable[[str, Mapping[str, Any], Context], tuple[str, dict[str, Any]]]

PREDICTED: dict[str, Predictor] = {
    "AWS::SageMaker::UserProfile": _predict_user_profile,
    "AWS::SageMaker::Space": _predict_space,
    "AWS::SageMaker::App": _predict_app,
    "AWS::SageMaker::MlflowTrackingServer": _named(
        "mlflow-tracking-server", "TrackingServerName", "TrackingServerArn", ref_is_arn=False
    ),
    # An MLflow App's ARN ends in a generated id in AWS; the embedded one uses its name.
    "AWS::SageMaker::MlflowApp": _named("mlflow-app", "Name", "Arn", ref_is_arn=True),
    "AWS::SageMaker::Image": _named("image", "ImageName", "ImageArn", ref_is_arn=True),
    "AWS::SageMaker::ImageVersion": _named(
        "image-version", "BaseImage", "ImageVersionArn", ref_is_arn=True, Version="1"
    ),
    "AWS::SageMaker::AppImageConfig": _named(
        "app-image-config", "AppImageConfigName", "AppImageConfigArn", ref_is_arn=False
    ),
    "AWS::SageMaker::MonitoringSchedule": _named(
        "monitoring-schedule", "MonitoringScheduleName", "MonitoringScheduleArn", ref_is_arn=True
    ),
    "AWS::SageMaker::Project": _named(
        "project", "ProjectName", "ProjectArn", ref_is_arn=True, ProjectId="p-local"
    ),
    "AWS::SageMaker::StudioLifecycleConfig": _named(
        "studio-lifecycle-config", "StudioLifecycleConfigName", "StudioLifecycleConfigArn", ref_is_arn=False
    ),
    "AWS::SageMaker::InferenceComponent": _named(
        "inference-component", "InferenceComponentName", "InferenceComponentArn", ref_is_arn=True
    ),
}


def is_api_type(cfn_type: str) -> bool:
    """Types this module creates through the SageMaker API."""
    return cfn_type in CREATORS


def create(client: Any, logical_id: str, cfn_type: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    """Create one resource through the SageMaker API and verify it; failures come back as outcomes."""
    creator = CREATORS[cfn_type]
    try:
        outcome = creator(client, logical_id, props, ctx)
    except Exception as error:  # the API's own message is the most useful thing to report
        ref, attrs = predict(logical_id, cfn_type, props, ctx)
        return ApiOutcome(
            logical_id,
            cfn_type,
            created=False,
            failed=True,
            ref=ref,
            attributes=attrs,
            reason=f"{type(error).__name__}: {error}",
        )
    if not outcome.created:
        outcome.failed = True
        outcome.reason = outcome.reason or "the describe call did not return what was created"
    return outcome


def predict(
    logical_id: str, cfn_type: str, props: Mapping[str, Any], ctx: Context
) -> tuple[str, dict[str, Any]]:
    """The ``Ref`` value and attributes AWS would give a resource we could not create."""
    predictor = PREDICTED.get(cfn_type)
    if predictor is not None:
        return predictor(logical_id, props, ctx)
    short = cfn_type.split("::")[-1].lower()
    if cfn_type == "AWS::SageMaker::ModelPackageGroup":
        arn = _arn(ctx, "model-package-group", _name(props, "ModelPackageGroupName", logical_id))
        return arn, {"ModelPackageGroupArn": arn}
    if cfn_type == "AWS::SageMaker::Pipeline":
        name = _name(props, "PipelineName", logical_id)
        return name, {"PipelineArn": _arn(ctx, "pipeline", name)}
    if cfn_type == "AWS::SageMaker::Domain":
        domain_id = f"d-{_name(props, 'DomainName', logical_id)}"
        return domain_id, {"DomainId": domain_id, "DomainArn": _arn(ctx, "domain", domain_id)}
    if cfn_type == "AWS::SageMaker::FeatureGroup":
        name = _name(props, "FeatureGroupName", logical_id)
        return name, {"FeatureGroupArn": _arn(ctx, "feature-group", name)}
    return f"{logical_id}-local", {"Arn": _arn(ctx, short, logical_id)}


def unsupported_reason(cfn_type: str) -> str:
    return (
        f"moto implements neither CloudFormation support nor a service API for {cfn_type}; "
        "its Ref/GetAtt values are predicted so that dependent resources deploy"
    )
