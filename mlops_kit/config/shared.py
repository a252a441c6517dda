"""Tier 2 settings: the shared assets every project reuses.

Kept free of aws_cdk imports so that loading ``kit.yaml`` stays fast.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from mlops_kit.config.backbone import PERSONAS
from mlops_kit.config.common import AccountId, Section
from mlops_kit.config.validation import FieldProblem

# Studio JupyterLab/Code Editor instance types look like ml.<family>.<size>.
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
# Lower-case names that become part of SageMaker names (with the kit prefix in front).
_SHORT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
# Feature names as SageMaker accepts them (also valid Glue/Athena column names in lower case).
_FEATURE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9_]){0,63}$")
# ECR tag characters; the kit's repository has immutable tags, so moving tags are refused.
_IMAGE_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$")
MOVING_TAGS = frozenset({"latest", "stable", "main", "master", "dev", "develop", "prod", "production", "current", "edge", "nightly"})
MAX_LIFECYCLE_SCRIPT_BYTES = 12_000  # CloudFormation takes at most 16384 base64 characters


def _short_name(value: str) -> str:
    if not _SHORT_NAME.match(value) or "--" in value:
        raise ValueError(
            "allowed: 2 to 32 characters, lowercase letters, digits and single hyphens, starting with a letter "
            "and not ending with a hyphen (it becomes part of a SageMaker resource name)"
        )
    return value


def _instance_type(value: str) -> str:
    if not _INSTANCE_TYPE.match(value):
        raise ValueError("not a SageMaker Studio instance type; allowed: names such as ml.t3.medium or ml.m5.xlarge")
    return value


def _unique(values: list[str], what: str) -> list[str]:
    for index, value in enumerate(values):
        if value in values[:index]:
            raise ValueError(f"{what} '{value}' is listed twice; list each once")
    return values


ShortName = Annotated[str, AfterValidator(_short_name)]
InstanceType = Annotated[str, AfterValidator(_instance_type)]


class IdleShutdownConfig(Section):
    """Studio's native idle shutdown of JupyterLab and Code Editor apps."""

    enabled: bool = True
    idle_minutes: int = Field(default=60, ge=60, le=525600, description="Shut an app down after this many idle minutes.")
    max_idle_minutes: int = Field(default=480, ge=60, le=525600, description="The most a user may raise their own timeout to.")

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.max_idle_minutes < self.idle_minutes:
            raise FieldProblem(
                ("max_idle_minutes",),
                f"got {self.max_idle_minutes}: must be at least idle_minutes ({self.idle_minutes})",
            )
        return self


class LifecycleConfig(Section):
    """A Studio lifecycle configuration script (runs when an app starts)."""

    name: ShortName
    app_type: Literal["JupyterLab", "CodeEditor"] = "JupyterLab"
    script: str = Field(description="The shell script itself, written inline (a YAML block scalar).")
    default: bool = Field(default=False, description="Run it for every new app of this type without the user choosing it.")

    @field_validator("script")
    @classmethod
    def _script(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the script is empty; write the shell script inline, starting with #!/bin/bash")
        size = len(value.encode("utf-8"))
        if size > MAX_LIFECYCLE_SCRIPT_BYTES:
            raise ValueError(f"the script is {size} bytes; at most {MAX_LIFECYCLE_SCRIPT_BYTES} (CloudFormation's limit once base64-encoded)")
        return value


class CustomImageConfig(Section):
    """A custom notebook image: ECR repository, SageMaker Image and AppImageConfig.

    ``tag`` names an image already pushed to the kit's repository; leave it out on the
    first deploy, push the image, then set it so the domain offers the image.
    """

    name: ShortName
    display_name: str | None = Field(default=None, max_length=128)
    tag: str | None = None
    app_type: Literal["JupyterLab", "CodeEditor"] = "JupyterLab"

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _IMAGE_TAG.match(value):
            raise ValueError("not a valid image tag; allowed: up to 128 letters, digits, _ . - (not starting with . or -)")
        if value.lower() in MOVING_TAGS or not any(ch.isdigit() for ch in value):
            raise ValueError(
                "the kit's image repository has immutable tags, so a moving tag cannot be updated; "
                "use a version or commit tag such as 1.4.0 or 3f9c2ab"
            )
        return value


class UserProfileConfig(Section):
    """One Studio user: its name and the persona whose permissions it works with."""

    name: ShortName
    persona: str
    instance_types: list[InstanceType] | None = Field(
        default=None, description="Instance types this user may start; default: the domain's list."
    )

    @field_validator("persona")
    @classmethod
    def _persona(cls, value: str) -> str:
        if value not in PERSONAS:
            raise ValueError(f"unknown persona; allowed: {', '.join(PERSONAS)}")
        return value


class StudioConfig(Section):
    """The SageMaker Studio domain: VPC-only, IAM auth, encrypted with the kit's data key."""

    enabled: bool = True
    idle_shutdown: IdleShutdownConfig = Field(default_factory=IdleShutdownConfig)
    instance_types: list[InstanceType] = Field(
        default_factory=lambda: ["ml.t3.medium", "ml.t3.large", "ml.m5.large", "ml.m5.xlarge"],
        min_length=1,
        description="Instance types Studio apps may use; the first is the default.",
    )
    notebook_sharing: bool = Field(default=False, description="Allow sharing notebooks (with outputs), stored encrypted in the artifacts bucket.")
    lifecycle_configs: list[LifecycleConfig] = Field(default_factory=list)
    custom_image: CustomImageConfig | None = None
    user_profiles: list[UserProfileConfig] = Field(default_factory=list)

    @field_validator("instance_types")
    @classmethod
    def _unique_types(cls, value: list[str]) -> list[str]:
        return _unique(value, "instance type")

    @model_validator(mode="after")
    def _cross(self) -> Self:
        for index, profile in enumerate(self.user_profiles):
            if profile.name in [p.name for p in self.user_profiles[:index]]:
                raise FieldProblem(("user_profiles", index, "name"), f"got {profile.name!r}: two user profiles have this name; names must be unique")
            for position, instance in enumerate(profile.instance_types or []):
                if instance not in self.instance_types:
                    raise FieldProblem(
                        ("user_profiles", index, "instance_types", position),
                        f"got {instance!r}: a profile may only narrow the domain's list; allowed: {', '.join(self.instance_types)}",
                    )
        for index, config in enumerate(self.lifecycle_configs):
            if config.name in [c.name for c in self.lifecycle_configs[:index]]:
                raise FieldProblem(("lifecycle_configs", index, "name"), f"got {config.name!r}: two lifecycle configurations have this name")
            if config.default and any(c.default and c.app_type == config.app_type for c in self.lifecycle_configs[:index]):
                raise FieldProblem(("lifecycle_configs", index, "default"), f"only one {config.app_type} lifecycle configuration can be the default")
        return self


FeatureType = Literal["Integral", "Fractional", "String"]


class FeatureConfig(Section):
    name: str
    type: FeatureType

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _FEATURE_NAME.match(value):
            raise ValueError("allowed: 1 to 64 letters, digits, hyphens and underscores, starting with a letter or digit")
        return value


class FeatureGroupConfig(Section):
    """One feature group. Every property is create-only: bump ``version`` when the schema changes."""

    name: ShortName
    version: int = Field(default=1, ge=1, le=999, description="Part of the group's name (<prefix>-<name>-v<version>).")
    description: str | None = Field(default=None, max_length=128)
    record_identifier: str
    event_time: str
    features: list[FeatureConfig] = Field(min_length=2, max_length=2500)
    online_store: bool = False
    offline_store: bool = True
    table_format: Literal["Glue", "Iceberg"] = "Iceberg"

    @model_validator(mode="after")
    def _schema(self) -> Self:
        types: dict[str, str] = {}
        for index, feature in enumerate(self.features):
            key = feature.name.lower()
            if key in types:
                raise FieldProblem(
                    ("features", index, "name"),
                    f"got {feature.name!r}: two features have this name (names are compared case-insensitively, as the offline store does)",
                )
            types[key] = feature.type
        names = ", ".join(f.name for f in self.features)
        if self.record_identifier.lower() not in types:
            raise FieldProblem(("record_identifier",), f"got {self.record_identifier!r}: not one of the features ({names})")
        if types[self.record_identifier.lower()] not in ("String", "Integral"):
            raise FieldProblem(("record_identifier",), f"got {self.record_identifier!r}: the record identifier must be a String or Integral feature")
        if self.event_time.lower() not in types:
            raise FieldProblem(("event_time",), f"got {self.event_time!r}: not one of the features ({names})")
        if types[self.event_time.lower()] not in ("String", "Fractional"):
            raise FieldProblem(("event_time",), f"got {self.event_time!r}: the event-time feature must be Fractional (epoch seconds) or String (ISO-8601)")
        if not (self.online_store or self.offline_store):
            raise FieldProblem(("online_store",), "a feature group needs an online store, an offline store or both")
        return self


class FeatureStoreConfig(Section):
    """The offline store bucket, its Glue database and the declared feature groups."""

    enabled: bool = True
    feature_groups: list[FeatureGroupConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_groups(self) -> Self:
        seen: list[tuple[str, int]] = []
        for index, group in enumerate(self.feature_groups):
            if (group.name, group.version) in seen:
                raise FieldProblem(("feature_groups", index, "name"), f"got {group.name!r} version {group.version}: declared twice")
            seen.append((group.name, group.version))
        return self


class ModelRegistryConfig(Section):
    """Model package groups per project, and who outside this account may read them."""

    reader_accounts: list[AccountId] = Field(
        default_factory=list, description="Accounts (staging, production) that may read model packages and their artifacts."
    )

    @field_validator("reader_accounts")
    @classmethod
    def _unique_accounts(cls, value: list[str]) -> list[str]:
        return _unique(value, "account")


class ExperimentsConfig(Section):
    """Experiment tracking: a serverless MLflow App (default), a tracking server, or none.

    An MLflow App has no idle compute charge (storage and requests bill); a tracking server
    bills every hour it exists, from Small upwards. Artifacts live in the kit's artifacts
    bucket under ``mlflow/`` in every mode, so switching modes keeps them.
    """

    mode: Literal["app", "server", "off"] = Field(
        default="app", description="app: serverless MLflow App; server: an always-on tracking server (sized); off: none."
    )
    size: Literal["Small", "Medium", "Large"] | None = Field(default=None, description="Tracking server size (mode: server only); default Small.")
    mlflow_version: str | None = Field(
        default=None, pattern=r"^\d+(\.\d+)+$", description="Tracking server MLflow version (mode: server only); default: SageMaker's."
    )
    weekly_maintenance_window: str | None = Field(
        default=None, pattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):([0-5]\d)$", description="e.g. Sun:03:00 (UTC)"
    )

    @model_validator(mode="after")
    def _server_only(self) -> Self:
        for name in ("size", "mlflow_version"):
            if getattr(self, name) is not None and self.mode != "server":
                raise FieldProblem(
                    (name,), f"applies to mode: server only (got mode: {self.mode}); remove {name} or set mode: server"
                )
        if self.weekly_maintenance_window is not None and self.mode == "off":
            raise FieldProblem(("weekly_maintenance_window",), "applies to mode: app or server only (got mode: off); remove it")
        return self

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


class SharedDataConfig(Section):
    """The datasets bucket (raw/ and curated/ zones) and the artifacts bucket."""

    noncurrent_version_days: int = Field(default=90, ge=1, le=3650)
    raw_infrequent_access_days: int | None = Field(
        default=90, ge=30, le=3650, description="Move raw/ objects to S3 Standard-IA after this many days; null keeps them in Standard."
    )


class SharedAssetsConfig(Section):
    """Studio, Feature Store, Model Registry, experiment tracking and shared buckets."""

    studio: StudioConfig = Field(default_factory=StudioConfig)
    feature_store: FeatureStoreConfig = Field(default_factory=FeatureStoreConfig)
    model_registry: ModelRegistryConfig = Field(default_factory=ModelRegistryConfig)
    experiments: ExperimentsConfig = Field(default_factory=ExperimentsConfig)
    shared_data: SharedDataConfig = Field(default_factory=SharedDataConfig)
