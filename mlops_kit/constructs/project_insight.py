"""What a project manager watches: a CloudWatch dashboard and an AWS Budget on the project's tag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_kit.constructs.monitoring_alarms import DATA_METRICS, DRIFT_PREFIX, MODEL_METRICS
from mlops_kit.errors import PropsError

PROJECT_TAG = "kit:project"
# Tiers 1 and 2 carry kit:tier 1 and 2; the Studio domain keeps the value it was created with.
TIER_TAG = "kit:tier"
PLATFORM_TIERS = ("1", "2", "shared-assets")


def _search(namespace: str, endpoint: str, term: str, statistic: str, label: str) -> cloudwatch.MathExpression:
    # Search expressions find the per-feature metrics whatever the features are; an unquoted
    # term is a partial match (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html).
    return cloudwatch.MathExpression(
        expression=f'''SEARCH('{{"{namespace}",Endpoint,MonitoringSchedule}} Endpoint="{endpoint}" {term}', '{statistic}', 3600)''',
        label=label,
        period=Duration.hours(1),
    )


def _monitoring_widgets(endpoint: str, *, model_quality: bool, alarms: Sequence[cloudwatch.IAlarm]) -> list[cloudwatch.IWidget]:
    """What Model Monitor publishes for the endpoint, under its documented names (``monitoring_alarms``)."""
    widgets: list[cloudwatch.IWidget] = [
        cloudwatch.GraphWidget(
            title="Data quality: drift from the baseline, per feature",
            left=[_search(DATA_METRICS, endpoint, f"MetricName={DRIFT_PREFIX.rstrip('_')}", "Maximum", "drift")],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Data quality: completeness, per feature",
            left=[_search(DATA_METRICS, endpoint, "MetricName=feature_non_null", "Minimum", "completeness")],
            width=12,
        ),
    ]
    if model_quality:
        widgets.append(
            cloudwatch.GraphWidget(
                title="Model quality against ground truth",
                left=[_search(MODEL_METRICS, endpoint, "", "Average", "model quality")],
                width=12,
            )
        )
    if alarms:
        widgets.append(cloudwatch.AlarmStatusWidget(title="Monitoring violations (alarms)", alarms=list(alarms), width=12))
    return widgets


class ProjectDashboard(Construct):
    """Pipeline runs, endpoint latency and errors, and monitoring violations on one page."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        pipeline_name: str,
        endpoint_names: Sequence[str],
        monitored_endpoint: str | None = None,
        model_quality: bool = False,
        alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        """``monitored_endpoint`` (default: none) adds the Model Monitor widgets: per-feature drift
        and completeness, model quality when ``model_quality``, and the state of ``alarms``."""
        super().__init__(scope, construct_id)
        period = Duration.minutes(5)

        def pipeline_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/Sagemaker/ModelBuildingPipeline",
                metric_name=name,
                dimensions_map={"PipelineName": pipeline_name},
                statistic="Sum",
                period=Duration.hours(1),
            )

        def endpoint_metric(endpoint: str, name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map={"EndpointName": endpoint, "VariantName": "AllTraffic"},
                statistic=statistic,
                period=period,
                label=f"{endpoint} {name}",
            )

        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Pipeline runs",
                left=[pipeline_metric("ExecutionSucceeded"), pipeline_metric("ExecutionFailed"), pipeline_metric("ExecutionStarted")],
                width=12,
            ),
        ]
        if endpoint_names:
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Endpoint latency (p90, microseconds)",
                    left=[endpoint_metric(name, "ModelLatency", "p90") for name in endpoint_names],
                    width=12,
                )
            )
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Endpoint errors and invocations",
                    left=[endpoint_metric(name, metric, "Sum") for name in endpoint_names for metric in ("Invocation4XXErrors", "Invocation5XXErrors")],
                    right=[endpoint_metric(name, "Invocations", "Sum") for name in endpoint_names],
                    width=12,
                )
            )
        if monitored_endpoint is not None:
            widgets += _monitoring_widgets(monitored_endpoint, model_quality=model_quality, alarms=alarms)
        self.dashboard = cloudwatch.Dashboard(self, "Resource", dashboard_name=dashboard_name, widgets=[widgets])


class MonthlyBudget(Construct):
    """A monthly AWS cost budget on cost-allocation tag values, with e-mail alerts.

    ``tag_values`` maps a tag key to the values whose spend counts (any of them). Activate those
    keys as cost-allocation tags once per payer account, or the budget sees no spend. Alerts go
    to ``alert_emails`` and ``alert_topic`` (the project's notification topic, which Budgets may
    publish to through its resource policy) when actual or forecast spend passes
    ``alert_at_percent``; a notification takes at most 10 e-mail subscribers and one SNS
    subscriber (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Subscriber.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-budgets-budget.html). The first two
    budgets of an account are free, each further one $0.02 a day
    (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        budget_name: str,
        monthly_limit_usd: float,
        alert_emails: Sequence[str],
        alert_at_percent: int,
        tag_values: Mapping[str, Sequence[str]],
        alert_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if monthly_limit_usd <= 0:
            raise PropsError(type(self).__name__, "monthly_limit_usd", f"got {monthly_limit_usd}; must be more than 0")
        if len(alert_emails) > 10:
            raise PropsError(type(self).__name__, "alert_emails", f"got {len(alert_emails)}; a budget notification takes at most 10 e-mail subscribers")
        notifications = []
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=a) for a in alert_emails]
        if alert_topic is not None:
            subscribers.append(budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=alert_topic.topic_arn))
            alert_topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="BudgetsPublish",
                    principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[alert_topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
                )
            )
        if subscribers:
            for kind in ("ACTUAL", "FORECASTED"):
                notifications.append(
                    budgets.CfnBudget.NotificationWithSubscribersProperty(
                        notification=budgets.CfnBudget.NotificationProperty(
                            comparison_operator="GREATER_THAN",
                            notification_type=kind,
                            threshold=alert_at_percent,
                            threshold_type="PERCENTAGE",
                        ),
                        subscribers=subscribers,
                    )
                )
        self.budget = budgets.CfnBudget(
            self,
            "Resource",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
                cost_filters={"TagKeyValue": [f"user:{key}${value}" for key, values in tag_values.items() for value in values]},
            ),
            notifications_with_subscribers=notifications or None,
        )


class ProjectBudget(MonthlyBudget):
    """A monthly cost budget filtered on the project's cost-allocation tag."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        budget_name: str,
        monthly_limit_usd: float,
        alert_emails: Sequence[str],
        alert_at_percent: int,
        alert_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            budget_name=budget_name,
            monthly_limit_usd=monthly_limit_usd,
            alert_emails=alert_emails,
            alert_at_percent=alert_at_percent,
            tag_values={PROJECT_TAG: [project_name]},
            alert_topic=alert_topic,
        )
