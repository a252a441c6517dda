"""Alarms on what Model Monitor publishes, under the names AWS documents, and the settings that
turn model-quality monitoring on.

- Data quality (the built-in analyzer, with ``emit_metrics: Enabled`` in the baseline's
  constraints, as the pipeline's baseline step writes them): one metric per feature,
  ``feature_baseline_drift_<feature>`` (statistic Sum), with the dimensions ``Endpoint`` and
  ``MonitoringSchedule`` in the namespace ``aws/sagemaker/Endpoints/data-metrics``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html for
  the metric names; the namespace and dimension names as in
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-cloudwatch.html, which
  recommends exactly ``Endpoint`` and ``MonitoringSchedule``; the first page's "data-metric",
  "EndpointName" and "ScheduleName" disagree with it and with what the analyzer publishes).
- Model quality: one metric per statistic (``accuracy``, ``f1``, ``rmse``, ...), dimensions
  ``Endpoint`` and ``MonitoringSchedule``, namespace ``aws/sagemaker/Endpoints/model-metrics``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html).

A search expression cannot back an alarm, so the drift alarm names its features (the project's
``monitoring.drift_features``, at most 10: CloudWatch's limit of metrics in one alarm's math)
and fires on the largest drift; the dashboard searches every feature instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from mlops_kit.errors import PropsError

DATA_METRICS = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS = "aws/sagemaker/Endpoints/model-metrics"
DRIFT_PREFIX = "feature_baseline_drift_"
MAX_ALARM_METRICS = 10
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


@dataclass(frozen=True)
class ModelQualitySettings:
    """Model-quality monitoring: ``thresholds`` maps a metric to (bound, "below" | "above"),
    the side on which the alarm fires."""

    ground_truth_s3_uri: str
    problem_type: str = "BinaryClassification"
    inference_attribute: str | None = None
    probability_attribute: str | None = None
    probability_threshold: float | None = None
    thresholds: Mapping[str, tuple[float, str]] = field(default_factory=dict)


def drift_metric(endpoint: str, schedule: str, feature: str, period: Duration) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=DATA_METRICS,
        metric_name=f"{DRIFT_PREFIX}{feature}",
        dimensions_map={"Endpoint": endpoint, "MonitoringSchedule": schedule},
        statistic="Sum",
        period=period,
        label=feature,
    )


def model_quality_metric(endpoint: str, schedule: str, name: str, period: Duration) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=MODEL_METRICS,
        metric_name=name,
        dimensions_map={"Endpoint": endpoint, "MonitoringSchedule": schedule},
        statistic="Average",
        period=period,
    )


def schedule_period(schedule: str) -> Duration:
    """One data point per monitoring run: an hour or a day (an alarm's longest period)."""
    return Duration.hours(1) if schedule == "hourly" else Duration.days(1)


class MonitoringAlarms(Construct):
    """The drift alarm (largest ``feature_baseline_drift_<feature>`` above ``drift_threshold``)
    and one alarm per model-quality threshold; missing data (no run yet) is not breaching."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        data_quality_schedule: str,
        schedule: str = "daily",
        drift_features: Sequence[str] = (),
        drift_threshold: float = 0.1,
        model_quality_schedule: str | None = None,
        model_quality_thresholds: Mapping[str, tuple[float, str]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if len(drift_features) > MAX_ALARM_METRICS:
            raise PropsError(type(self).__name__, "drift_features", f"got {len(drift_features)}; at most {MAX_ALARM_METRICS} (one alarm's metrics)")
        if not 0 < drift_threshold <= 1:
            raise PropsError(type(self).__name__, "drift_threshold", f"got {drift_threshold}; a distance in (0, 1]")
        period = schedule_period(schedule)
        self.alarms: list[cloudwatch.Alarm] = []
        if drift_features:
            drift = cloudwatch.MathExpression(
                expression=f"MAX([{', '.join(f'd{i}' for i in range(len(drift_features)))}])",
                using_metrics={f"d{i}": drift_metric(endpoint_name, data_quality_schedule, f, period) for i, f in enumerate(drift_features)},
                label="largest feature drift",
                period=period,
            )
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    "DataDriftAlarm",
                    alarm_description=(
                        f"{endpoint_name}: feature drift from the approved package's baseline above {drift_threshold} "
                        f"({', '.join(drift_features)})"
                    ),
                    metric=drift,
                    threshold=drift_threshold,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        for name, (bound, worse) in sorted((model_quality_thresholds or {}).items()):
            if model_quality_schedule is None:
                raise PropsError(type(self).__name__, "model_quality_thresholds", "given without model_quality_schedule")
            if worse not in ("below", "above"):
                raise PropsError(type(self).__name__, f"model_quality_thresholds[{name!r}]", f"got {worse!r}; allowed: below, above")
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    "ModelQuality" + "".join(part.capitalize() for part in name.split("_")) + "Alarm",
                    alarm_description=f"{endpoint_name}: model-quality {name} {worse} {bound}",
                    metric=model_quality_metric(endpoint_name, model_quality_schedule, name, period),
                    threshold=bound,
                    comparison_operator=(
                        cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                        if worse == "below"
                        else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                    ),
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
