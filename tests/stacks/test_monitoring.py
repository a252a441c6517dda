"""Monitoring that reaches people, in the shipped platform: every alarm of every template has an
action, the drift alarm and the dashboard use the metric names AWS documents, and the budget
notifies the project's topic.

Documented names (the pages ``mlops_kit.constructs.monitoring_alarms`` cites):
- Model Monitor data quality: namespace aws/sagemaker/Endpoints/data-metrics, metric
  feature_baseline_drift_<feature>, dimensions Endpoint and MonitoringSchedule
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-cloudwatch.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-cloudwatch.html).
- Endpoints: AWS/SageMaker ModelLatency, Invocation4XXErrors, Invocation5XXErrors, Invocations,
  dimensions EndpointName and VariantName
  (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
- Pipelines: AWS/Sagemaker/ModelBuildingPipeline ExecutionStarted/Succeeded/Failed, dimension
  PipelineName (same page).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from mlops_kit.config import KitConfig

PROJECT = "Project-credit-risk"
ENDPOINT = "mlops-credit-risk-production"
SCHEDULE = f"{ENDPOINT}-data-quality"


def _stacks(app: cdk.App) -> list[cdk.Stack]:
    found: list[cdk.Stack] = []

    def visit(node: Any) -> None:
        for child in node.node.children:
            if isinstance(child, cdk.Stack):
                found.append(child)
            if isinstance(child, cdk.Stack | cdk.Stage):
                visit(child)

    visit(app)
    return found


def test_every_alarm_in_every_shipped_template_has_an_action(default_app: cdk.App) -> None:
    alarms = 0
    for stack in _stacks(default_app):
        for logical_id, alarm in Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm").items():
            alarms += 1
            actions = alarm["Properties"].get("AlarmActions", [])
            assert actions, f"{stack.stack_name}/{logical_id} has no alarm action"
            assert all("Topic" in json.dumps(action) for action in actions), (logical_id, actions)
    assert alarms >= 3  # the two rollback alarms and the drift alarm of the shipped project


def test_the_drift_alarm_watches_each_configured_feature_under_its_documented_name(
    stack_of: Callable[[str], cdk.Stack], default_config: KitConfig
) -> None:
    features = default_config.projects[0].monitoring.drift_features
    template = Template.from_stack(stack_of(PROJECT))
    (drift,) = [a for a in template.find_resources("AWS::CloudWatch::Alarm").values() if "feature drift" in a["Properties"]["AlarmDescription"]]
    metrics = [m["MetricStat"]["Metric"] for m in drift["Properties"]["Metrics"] if "MetricStat" in m]
    assert [m["MetricName"] for m in metrics] == [f"feature_baseline_drift_{f}" for f in features]
    for metric in metrics:
        assert metric["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {"Endpoint": ENDPOINT, "MonitoringSchedule": SCHEDULE}
    assert drift["Properties"]["ComparisonOperator"] == "GreaterThanThreshold" and drift["Properties"]["Threshold"] == 0.1
    assert "AlarmTopic" in json.dumps(drift["Properties"]["AlarmActions"])


def test_the_dashboard_shows_drift_violations_latency_errors_and_runs_by_documented_names(stack_of: Callable[[str], cdk.Stack]) -> None:
    template = Template.from_stack(stack_of(PROJECT))
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads("".join(p if isinstance(p, str) else "REF" for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]))
    widgets = {w["properties"].get("title"): w["properties"] for w in body["widgets"]}
    (drift,) = widgets["Data quality: drift from the baseline, per feature"]["metrics"][0]
    assert drift["expression"] == (
        f'''SEARCH('{{"aws/sagemaker/Endpoints/data-metrics",Endpoint,MonitoringSchedule}} Endpoint="{ENDPOINT}" '''
        "MetricName=feature_baseline_drift', 'Maximum', 3600)"
    )
    assert "feature_non_null" in json.dumps(widgets["Data quality: completeness, per feature"]["metrics"])
    assert widgets["Monitoring violations (alarms)"]["alarms"]
    latency = json.dumps(widgets["Endpoint latency (p90, microseconds)"]["metrics"])
    errors = json.dumps(widgets["Endpoint errors and invocations"]["metrics"])
    assert "ModelLatency" in latency and "EndpointName" in latency and "VariantName" in latency
    assert all(name in errors for name in ("Invocation4XXErrors", "Invocation5XXErrors", "Invocations"))
    runs = json.dumps(widgets["Pipeline runs"]["metrics"])
    assert "AWS/Sagemaker/ModelBuildingPipeline" in runs and all(m in runs for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed"))


def test_the_budget_notifies_the_projects_topic(stack_of: Callable[[str], cdk.Stack]) -> None:
    template = Template.from_stack(stack_of(PROJECT))
    (budget,) = template.find_resources("AWS::Budgets::Budget").values()
    for notification in budget["Properties"]["NotificationsWithSubscribers"]:
        assert any(s["SubscriptionType"] == "SNS" and "AlarmTopic" in json.dumps(s["Address"]) for s in notification["Subscribers"])
