"""Tier 1 settings: where the platform runs, its network, its people and its audit trail."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from mlops_kit.config.common import AccountId, PrincipalArn, Region, RetentionDays, Section
from mlops_kit.config.validation import FieldProblem


class EnvironmentConfig(Section):
    """Account and region; leave both out for an environment-agnostic synth."""

    account: AccountId | None = None
    region: Region | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.account is None) != (self.region is None):
            raise ValueError("set both account and region, or neither (environment-agnostic)")
        return self

    @property
    def is_agnostic(self) -> bool:
        return self.account is None


# The features an interface endpoint can be needed by. "platform" is always on: SageMaker jobs,
# pipelines and the deploy flow's models in the VPC need it whatever else is enabled.
Feature = Literal["platform", "studio", "feature_store", "experiments"]


@dataclass(frozen=True)
class EndpointSpec:
    """One interface endpoint the platform may need, why, and which feature needs it.

    ``needed_by`` is None for endpoints no feature of the kit needs: add them with
    ``network.interface_endpoints.add`` when your own code calls that service from the VPC.
    """

    service: str
    prefix: str
    reason: str
    needed_by: Feature | None


# Interface endpoints for a VPC without internet. S3 is always a gateway endpoint (free). Each
# bills per AZ-hour (https://aws.amazon.com/privatelink/pricing/), so an endpoint exists only
# because an enabled feature needs it (``KitConfig.interface_endpoint_names``).
# The key is what users write in kit.yaml; ``service``/``prefix`` form the AWS service name
# ``<prefix>.<region>.<service>``.
INTERFACE_ENDPOINTS: dict[str, EndpointSpec] = {
    "sagemaker_api": EndpointSpec("sagemaker.api", "com.amazonaws", "SageMaker control plane: jobs, pipelines, registry calls from Studio and jobs", "platform"),
    "sagemaker_runtime": EndpointSpec("sagemaker.runtime", "com.amazonaws", "InvokeEndpoint from Studio and from applications inside the VPC", "platform"),
    "studio": EndpointSpec("studio", "aws.sagemaker", "the Studio web UI and its presigned URLs in VPC-only mode", "studio"),
    "notebook": EndpointSpec("notebook", "aws.sagemaker", "notebook and JupyterLab app traffic in VPC-only mode", "studio"),
    "sts": EndpointSpec("sts", "com.amazonaws", "regional STS: the SDK's credential calls hang without internet otherwise", "platform"),
    "logs": EndpointSpec("logs", "com.amazonaws", "CloudWatch Logs for jobs, endpoints, Studio apps and flow logs", "platform"),
    "monitoring": EndpointSpec("monitoring", "com.amazonaws", "CloudWatch metrics from jobs and endpoints", "platform"),
    "ecr_api": EndpointSpec("ecr.api", "com.amazonaws", "ECR authorisation and manifests for SageMaker and custom images", "platform"),
    "ecr_dkr": EndpointSpec("ecr.dkr", "com.amazonaws", "ECR image layer pulls (layers themselves come through the S3 gateway)", "platform"),
    "kms": EndpointSpec("kms", "com.amazonaws", "client-side KMS calls from your own code (S3, EBS and EFS encryption is called by those services, not from the VPC)", None),
    "featurestore_runtime": EndpointSpec("sagemaker.featurestore-runtime", "com.amazonaws", "Feature Store PutRecord/GetRecord: ingestion uses it even for offline-only groups", "feature_store"),
    "sagemaker_metrics": EndpointSpec("sagemaker.metrics", "com.amazonaws", "SageMaker Experiments metrics (BatchPutMetrics); the kit tracks with MLflow instead", None),
    "experiments": EndpointSpec("experiments", "aws.sagemaker", "the MLflow App or tracking server's API and UI from Studio and jobs", "experiments"),
    "glue": EndpointSpec("glue", "com.amazonaws", "the Glue catalog behind the Feature Store offline store", None),
    "athena": EndpointSpec("athena", "com.amazonaws", "querying the offline store from notebooks", None),
    "ssm": EndpointSpec("ssm", "com.amazonaws", "reading the platform's SSM parameters from inside the VPC", None),
    "servicecatalog": EndpointSpec("servicecatalog", "com.amazonaws", "SageMaker Projects (only if you use them besides the kit's projects)", None),
}

EndpointName = Literal[
    "sagemaker_api", "sagemaker_runtime", "studio", "notebook", "sts", "logs", "monitoring",
    "ecr_api", "ecr_dkr", "kms", "featurestore_runtime", "sagemaker_metrics", "experiments",
    "glue", "athena", "ssm", "servicecatalog",
]


def endpoints_for(features: set[str], *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[str]:
    """The interface endpoints the enabled ``features`` need, plus ``add``, minus ``remove``, in table order."""
    wanted = {name for name, spec in INTERFACE_ENDPOINTS.items() if spec.needed_by in features} | set(add)
    return [name for name in INTERFACE_ENDPOINTS if name in wanted and name not in remove]


class EndpointChanges(Section):
    """Interface endpoints on top of (``add``) or taken from (``remove``) those the enabled features need."""

    add: list[EndpointName] = Field(default_factory=list)
    remove: list[EndpointName] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _not_a_list(cls, data: Any) -> Any:
        if isinstance(data, list):
            raise ValueError(
                "the endpoints now follow the enabled features; write {add: [...], remove: [...]} to change them"
            )
        return data

    @field_validator("add", "remove")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen = [name for index, name in enumerate(value) if name in value[:index]]
        if seen:
            raise ValueError(f"'{seen[0]}' is listed twice; list each endpoint once")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> Self:
        both = [name for name in self.add if name in self.remove]
        if both:
            raise FieldProblem(("remove",), f"'{both[0]}' is both added and removed; keep it in one list")
        return self


# The zone letters every account sees in each region, so a pinned stack names its zones
# without CDK's availability-zone context lookup (an AWS call that needs credentials at
# synth, and a lookup role in the delivery pipeline). AZ *names* map to physical zones per
# account, but the letters offered are the same for every account in these regions; where
# they are not (us-west-1 offers a/b or b/c, depending on the account), the region is left
# out and `network.availability_zones` must name the zones.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html
KNOWN_ZONES: dict[str, str] = {
    "us-east-1": "abcdef", "us-east-2": "abc", "us-west-2": "abcd", "ca-central-1": "abd",
    "eu-west-1": "abc", "eu-west-2": "abc", "eu-west-3": "abc", "eu-central-1": "abc", "eu-central-2": "abc",
    "eu-north-1": "abc", "eu-south-1": "abc", "eu-south-2": "abc",
    "ap-northeast-1": "acd", "ap-northeast-2": "abcd", "ap-northeast-3": "abc", "ap-southeast-1": "abc",
    "ap-southeast-2": "abc", "ap-south-1": "abc", "sa-east-1": "abc", "me-central-1": "abc", "af-south-1": "abc",
}


def zones_for(region: str, network: NetworkConfig) -> list[str] | None:
    """The zones a stack pinned to ``region`` uses: the configured ones of that region, else the known ones.

    ``None`` when neither names ``network.az_count`` zones of the region; the config
    validation (``KitConfig``) reports that case before any stack is built.
    """
    configured = [zone for zone in network.availability_zones or () if zone[:-1] == region]
    if configured:
        return configured
    letters = KNOWN_ZONES.get(region, "")
    if len(letters) < network.az_count:
        return None
    return [f"{region}{letter}" for letter in letters[: network.az_count]]


class FlowLogsConfig(Section):
    enabled: bool = True
    retention_days: RetentionDays = 365


class NetworkConfig(Section):
    """The VPC every SageMaker resource of the kit lives in."""

    cidr: str = "10.40.0.0/16"
    az_count: int = Field(default=2, ge=1, le=6)
    internet: Literal["none", "egress"] = "none"
    interface_endpoints: EndpointChanges = Field(default_factory=EndpointChanges)
    endpoint_az_count: int | None = Field(
        default=None,
        ge=1,
        le=6,
        description="Place interface endpoints in only the first N AZs (default: every AZ). Cheaper per AZ-hour; "
        "the other AZs reach them across zones (cross-AZ data charges) and lose them if those AZs fail.",
    )
    flow_logs: FlowLogsConfig = Field(default_factory=FlowLogsConfig)
    availability_zones: list[str] | None = Field(
        default=None,
        description="AZ names for a pinned region (e.g. [eu-west-1a, eu-west-1b]); default: the first az_count of the "
        "region's zones as the kit knows them (KNOWN_ZONES). Used only by stacks in the zones' region; ignored by "
        "environment-agnostic synths, which take the first az_count AZs at deploy time.",
    )

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        for zone in value:
            if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d[a-z]", zone):
                raise ValueError(f"{zone!r} is not an availability zone name such as eu-west-1a")
        if len(set(value)) != len(value):
            raise ValueError("each availability zone may be listed once")
        return value

    @model_validator(mode="after")
    def _zone_count(self) -> Self:
        if self.endpoint_az_count is not None and self.endpoint_az_count > self.az_count:
            raise FieldProblem(
                ("endpoint_az_count",), f"got {self.endpoint_az_count}: at most az_count ({self.az_count})"
            )
        if self.availability_zones is not None and len(self.availability_zones) != self.az_count:
            raise FieldProblem(
                ("availability_zones",), f"lists {len(self.availability_zones)} zones but az_count is {self.az_count}"
            )
        return self

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError("not a valid IPv4 CIDR block; allowed: a private network such as 10.40.0.0/16") from None
        if not network.is_private:
            raise ValueError("the VPC CIDR must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
        if not 16 <= network.prefixlen <= 22:
            raise ValueError("the prefix length must be from /16 to /22 so every AZ gets room for SageMaker's ENIs")
        return value


class PersonasConfig(Section):
    """Who may assume each persona role (IAM principal ARNs).

    An empty list lets the account's own IAM administrators decide (the role trusts the
    account root and is granted through identity policies or IAM Identity Center).
    """

    data_scientist: list[PrincipalArn] = Field(default_factory=list)
    ml_engineer: list[PrincipalArn] = Field(default_factory=list)
    mlops_engineer: list[PrincipalArn] = Field(default_factory=list)
    devops_engineer: list[PrincipalArn] = Field(default_factory=list)
    cloud_security: list[PrincipalArn] = Field(default_factory=list)
    project_manager: list[PrincipalArn] = Field(default_factory=list)
    fullstack_developer: list[PrincipalArn] = Field(default_factory=list)


PERSONAS: tuple[str, ...] = tuple(PersonasConfig.model_fields)


class AuditConfig(Section):
    log_retention_days: RetentionDays = 365
    access_logs_expiration_days: int = Field(default=365, ge=1, le=3650)
    cloudtrail_data_events: bool = False
