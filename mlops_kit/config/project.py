"""Tier 3 settings: one file per AI project, ``projects/<name>.yaml``."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from mlops_kit.config.common import PrincipalArn, Section, TagKey, TagValue
from mlops_kit.config.delivery import ConnectionArn, Repository
from mlops_kit.config.validation import FieldProblem

# The pipeline templates a project can start from (mlops_kit/pipelines builds them).
PROJECT_TEMPLATES: dict[str, str] = {
    "tabular-training": "preprocess -> train (scikit-learn) -> evaluate -> condition -> register; staging and production endpoints",
    "batch-inference": "batch transform of a dataset with the latest approved model package",
}
TemplateName = Literal["tabular-training", "batch-inference"]

# SageMaker's endpoint and model-package-group names allow 63 characters; the kit names
# them <prefix>-<project>-<stage>, and the longest stage suffix is "-production".
MAX_SAGEMAKER_NAME = 63
LONGEST_SUFFIX = "-production"


def project_name_problem(value: str) -> str | None:
    """Why ``value`` cannot name a project, or None. Shared by the CLI and the config model."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,29}", value) or value.endswith("-") or "--" in value:
        return (
            "allowed: 2 to 30 characters, lowercase letters, digits and single hyphens, starting with a letter "
            "(it names the project's SageMaker pipeline, model package group and endpoints)"
        )
    return None


def _project_name(value: str) -> str:
    problem = project_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _instance_type(value: str) -> str:
    if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", value):
        raise ValueError("allowed: a SageMaker instance type such as ml.m5.large")
    return value


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", value, flags=re.IGNORECASE):
        raise ValueError("allowed: an e-mail address such as team@example.com")
    return value


# Who may approve: the project's team role, a persona that does not register models, or an
# IAM role of the account. ML engineers register models, so they cannot approve them.
APPROVER_PERSONAS = ("mlops_engineer", "project_manager", "cloud_security", "devops_engineer", "data_scientist")


def _approver(value: str) -> str:
    if value == "team" or value in APPROVER_PERSONAS:
        return value
    if re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", value):
        return value
    if value == "ml_engineer":
        raise ValueError("ml_engineer registers models and so may not approve them (separation of duties)")
    raise ValueError(f"allowed: team, {', '.join(APPROVER_PERSONAS)} or an IAM role ARN")


ProjectName = Annotated[str, AfterValidator(_project_name)]
Approver = Annotated[str, AfterValidator(_approver)]
InstanceType = Annotated[str, AfterValidator(_instance_type)]
Email = Annotated[str, AfterValidator(_email)]


class BudgetConfig(Section):
    """An AWS Budget on the project's cost-allocation tag, with e-mail alerts."""

    monthly_limit_usd: float = Field(default=500, gt=0, le=1_000_000)
    alert_emails: list[Email] = Field(default_factory=list, max_length=10)
    alert_at_percent: int = Field(default=80, ge=1, le=1000)


class PipelineSettings(Section):
    """The project's SageMaker pipeline (template ``tabular-training`` or ``batch-inference``)."""

    target_column: str = Field(default="label", min_length=1, max_length=128)
    metric: Literal["accuracy", "auc", "f1"] = "accuracy"
    threshold: float = Field(default=0.7, ge=0, le=1)
    processing_instance_type: InstanceType = "ml.m5.large"
    training_instance_type: InstanceType = "ml.m5.large"
    transform_instance_type: InstanceType = "ml.m5.large"
    use_spot: bool = True


class StagingConfig(Section):
    """Staging: by default one instance of the smallest type inside the project's VPC, with
    network isolation. ``endpoint_type: serverless`` costs nothing while idle, but serverless
    inference takes no VPC configuration or network isolation, so its model is created without
    VpcConfig (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html)."""

    endpoint_type: Literal["instance", "serverless"] = Field(
        default="instance",
        description="instance: in the VPC, network isolation (default); serverless: no idle cost, model created without VpcConfig.",
    )
    instance_type: InstanceType = Field(default="ml.t2.medium", description="With endpoint_type instance: one instance of this type.")
    memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(default=2048, description="With endpoint_type serverless.")
    max_concurrency: int = Field(default=5, ge=1, le=200, description="With endpoint_type serverless.")


class ProductionConfig(Section):
    """Production runs on instances with autoscaling, data capture and guarded rollouts."""

    instance_type: InstanceType = "ml.m5.large"
    min_instances: int = Field(default=1, ge=1, le=100)
    max_instances: int = Field(default=4, ge=1, le=100)
    target_invocations_per_instance: int = Field(default=100, ge=1, le=100_000)
    data_capture_percent: int = Field(default=20, ge=1, le=100)
    rollout: Literal["canary", "linear", "all-at-once"] = "canary"

    @model_validator(mode="after")
    def _scaling(self) -> Self:
        if self.max_instances < self.min_instances:
            raise FieldProblem(("max_instances",), f"got {self.max_instances}: must be at least min_instances ({self.min_instances})")
        return self


class DeployConfig(Section):
    staging: StagingConfig = Field(default_factory=StagingConfig)
    production: ProductionConfig = Field(default_factory=ProductionConfig)


# What a model-quality job publishes per problem type, and which way is worse: "below" for a
# score, "above" for an error (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html).
MODEL_QUALITY_METRICS: dict[str, dict[str, str]] = {
    "BinaryClassification": {"accuracy": "below", "precision": "below", "recall": "below", "f1": "below", "auc": "below"},
    "MulticlassClassification": {
        "accuracy": "below", "weighted_precision": "below", "weighted_recall": "below", "weighted_f1": "below",
    },
    "Regression": {"mae": "above", "mse": "above", "rmse": "above", "r2": "below"},
}


def _feature_name(value: str) -> str:
    # It becomes part of a CloudWatch metric name (feature_baseline_drift_<feature>, at most 255).
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,200}", value):
        raise ValueError("allowed: a column name of letters, digits, '_', '.' or '-' (at most 200 characters)")
    return value


def _s3_prefix_uri(value: str) -> str:
    if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", value):
        raise ValueError("allowed: an S3 URI such as s3://bucket/ground-truth/")
    return value


FeatureName = Annotated[str, AfterValidator(_feature_name)]
S3PrefixUri = Annotated[str, AfterValidator(_s3_prefix_uri)]


class ModelQualityConfig(Section):
    """Model-quality monitoring of the production endpoint: captured predictions merged with the
    labels you upload to ``ground_truth_s3_uri`` (in Model Monitor's ground-truth format), an
    alarm per metric of ``thresholds`` (a score below, or an error above, its bound)."""

    ground_truth_s3_uri: S3PrefixUri = Field(description="Where the ground-truth records are uploaded (s3://bucket/prefix/).")
    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"] = "BinaryClassification"
    inference_attribute: str | None = Field(default=None, min_length=1, max_length=256, description="Where the prediction is in the endpoint's output (index or JSONPath).")
    probability_attribute: str | None = Field(default=None, min_length=1, max_length=256)
    probability_threshold: float | None = Field(default=None, ge=0, le=1, description="Probability above which the positive class is predicted.")
    thresholds: dict[str, float] = Field(default_factory=dict, max_length=10, description="Metric -> alarm bound, e.g. {accuracy: 0.75}.")

    @model_validator(mode="after")
    def _metrics(self) -> Self:
        allowed = MODEL_QUALITY_METRICS[self.problem_type]
        for name in self.thresholds:
            if name not in allowed:
                raise FieldProblem(("thresholds", name), f"not a {self.problem_type} metric; allowed: {', '.join(allowed)}")
        return self


class MonitoringConfig(Section):
    """Production monitoring: data quality against each approved package's own baseline,
    model quality when configured, alarms to the project's notification topic."""

    enabled: bool = True
    schedule: Literal["hourly", "daily"] = "daily"
    drift_features: list[FeatureName] = Field(
        default_factory=list, max_length=10,
        description="Features whose feature_baseline_drift_<feature> metric raises the drift alarm (CloudWatch allows 10 metrics an alarm).",
    )
    drift_threshold: float = Field(default=0.1, gt=0, le=1, description="Drift distance above which the alarm fires (the baseline's comparison_threshold).")
    model_quality: ModelQualityConfig | None = None


class BuildConfig(Section):
    """The project's build pipeline: a push to its seed code runs the project's tests,
    updates its SageMaker pipeline, starts a run and promotes the definition to the later
    delivery environments.

    Left as is, the seed code is the folder ``projects/<name>`` of the kit's repository,
    watched through the kit's delivery source (a push touching the folder starts it; with
    an S3 delivery source, a zip of the kit's repository uploaded to the project bucket as
    ``seed-code/<name>.zip``). With ``repository``, the seed code is a repository of its own.
    """

    enabled: bool = True
    repository: Repository | None = Field(
        default=None, description="The project's own repository (<owner>/<name>); left out, its folder in the kit's repository."
    )
    branch: str | None = Field(
        default=None, min_length=1, max_length=255, pattern=r"^[^\s~^:?*\[\\]+$",
        description="Branch of build.repository (default main); the kit's folder follows the delivery branch.",
    )
    connection_arn: ConnectionArn | None = Field(
        default=None, description="CodeConnections connection for build.repository; default: the kit's delivery connection."
    )
    test_command: str = Field(default="python -m pytest -q", min_length=1, max_length=500)
    start_run: bool = Field(default=True, description="Start a pipeline run in the training environment after each update.")

    @model_validator(mode="after")
    def _repository_fields(self) -> Self:
        if self.repository is None:
            for name in ("branch", "connection_arn"):
                if getattr(self, name) is not None:
                    raise FieldProblem((name,), "only with build.repository (the project's own repository); remove it or set repository")
        return self


class ProjectConfig(Section):
    """One AI project: its pipeline, model package group, data, roles, deploy flow and budget."""

    name: ProjectName
    template: TemplateName
    description: str = Field(default="", max_length=256)
    owners: list[PrincipalArn] = Field(default_factory=list, description="Principals that get project-scoped access.")
    approvers: list[Approver] = Field(
        default_factory=lambda: ["team", "mlops_engineer"], min_length=1, max_length=10,
        description="Who may approve production deployments: team (the project's team role), a persona or an IAM role ARN.",
    )
    notify_emails: list[Email] = Field(
        default_factory=list, max_length=10,
        description="Addresses told about approvals waiting, rollback alarms and the budget (besides budget.alert_emails).",
    )
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
