"""What a project manager watches: a CloudWatch dashboard and an AWS Budget on the project's tag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from mlops_kit.errors import PropsError

PROJECT_TAG = "kit:project"
# Tiers 1 and 2 carry kit:tier 1 and 2; the Studio domain keeps the value it was created with.
TIER_TAG = "kit:tier"
PLATFORM_TIERS = ("1", "2", "shared-assets")


class ProjectDashboard(Construct):
    """Pipeline runs, endpoint latency and errors, and monitoring violations on one page."""

    def __init__(
        self, scope: Construct, construct_id: str, *, dashboard_name: str, pipeline_name: str, endpoint_names: Sequence[str]
    ) -> None:
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
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Data-quality monitoring: baseline drift",
                    left=[
                        cloudwatch.MathExpression(
                            expression=(
                                "SEARCH('{aws/sagemaker/Endpoints/data-metrics,Endpoint,MonitoringSchedule} "
                                f"Endpoint=\"{endpoint_names[-1]}\" MetricName=\"feature_baseline_drift\"', 'Maximum', 3600)"
                            ),
                            label="drift",
                            period=Duration.hours(1),
                        )
                    ],
                    width=12,
                )
            )
        self.dashboard = cloudwatch.Dashboard(self, "Resource", dashboard_name=dashboard_name, widgets=[widgets])


class MonthlyBudget(Construct):
    """A monthly AWS cost budget on cost-allocation tag values, with e-mail alerts.

    ``tag_values`` maps a tag key to the values whose spend counts (any of them). Activate those
    keys as cost-allocation tags once per payer account, or the budget sees no spend. Alerts go
    to ``alert_emails`` when actual or forecast spend passes ``alert_at_percent``. The first two
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
    ) -> None:
        super().__init__(scope, construct_id)
        if monthly_limit_usd <= 0:
            raise PropsError(type(self).__name__, "monthly_limit_usd", f"got {monthly_limit_usd}; must be more than 0")
        notifications = []
        if alert_emails:
            subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=a) for a in alert_emails]
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
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            budget_name=budget_name,
            monthly_limit_usd=monthly_limit_usd,
            alert_emails=alert_emails,
            alert_at_percent=alert_at_percent,
            tag_values={PROJECT_TAG: [project_name]},
        )
