"""Non-SageMaker types moto's CloudFormation skips but whose service API moto implements.

moto's CloudFormation drops ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy``,
``AWS::CloudWatch::Alarm``, ``AWS::Budgets::Budget`` and ``AWS::Glue::Database`` without an
error. Their services' APIs exist in moto, so, like the SageMaker types in ``sagemaker_api``,
they are stripped from the template, created here with the resource's resolved properties,
checked with a describe call, and reported in the "via service API" column:

==============================  ==============================================
CloudFormation type             moto API used (create / verify / delete)
==============================  ==============================================
AWS::S3::BucketPolicy           PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy (*)
AWS::SNS::TopicPolicy           SetTopicAttributes(Policy) / GetTopicAttributes / (goes with the topic)
AWS::CloudWatch::Alarm          PutMetricAlarm / DescribeAlarms / DeleteAlarms
AWS::Budgets::Budget            CreateBudget / DescribeBudget / DeleteBudget
AWS::Glue::Database             CreateDatabase / GetDatabase / DeleteDatabase
AWS::StepFunctions::StateMachine CreateStateMachine / DescribeStateMachine / DeleteStateMachine (**)
==============================  ==============================================

(*) Only policies without conditional ``Deny`` statements: moto enforces bucket policies but
ignores conditions, so the kit's ``aws:SecureTransport`` Deny would refuse every request
(plain HTTP to 127.0.0.1). Those are reported unchecked with that reason.

(**) moto's CloudFormation *does* create state machines, but in a backend that never executes
them; the one created through the Step Functions API lives where the embedded AWS runs
executions (``moto_shims``, ``EXECUTION_CONFIG`` in ``server``), so the deploy flow runs.

What the creators cannot reproduce (a CloudFormation-generated name) is made stable from the
stack and logical id and noted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from mlops_kit.local.sagemaker_api import ApiOutcome, Context, api_params

ClientFactory = Callable[[str], Any]
Creator = Callable[[ClientFactory, str, dict[str, Any], Context], ApiOutcome]
Deleter = Callable[[ClientFactory, Mapping[str, Any]], None]


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _generated_name(ctx: Context, logical_id: str) -> str:
    return f"{ctx.get('stack_name', 'stack')}-{logical_id}"


def _dropped(dropped: list[str]) -> list[str]:
    return [f"dropped: {', '.join(dropped)}"] if dropped else []


class NotApplied(Exception):
    """The resource is deliberately not created (the message says why); it is reported unchecked."""


# -- S3 bucket policy ----------------------------------------------------------------------------
def _conditional_denies(document: Any) -> list[str]:
    statements = json.loads(_policy_text(document)).get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return sorted(
        {
            key
            for st in statements
            if st.get("Effect") == "Deny" and st.get("Condition")
            for operator in st["Condition"].values()
            for key in operator
        }
    )


def _bucket_policy(
    clients: ClientFactory, logical_id: str, props: dict[str, Any], ctx: Context
) -> ApiOutcome:
    s3 = clients("s3")
    bucket = str(props["Bucket"])
    conditions = _conditional_denies(props["PolicyDocument"])
    if conditions:
        # moto enforces bucket policies but ignores their conditions: a Deny on
        # aws:SecureTransport=false would deny every request to the bucket.
        raise NotApplied(
            f"not applied: moto enforces bucket policies without their conditions, so its conditional "
            f"Deny ({', '.join(conditions)}) would refuse every request to {bucket}"
        )
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy_text(props["PolicyDocument"]))
    stored = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    expected = json.loads(_policy_text(props["PolicyDocument"]))
    return ApiOutcome(
        logical_id,
        "AWS::S3::BucketPolicy",
        created=len(stored.get("Statement", [])) == len(expected.get("Statement", [])),
        ref=bucket,
        physical_id=bucket,
    )


def _delete_bucket_policy(clients: ClientFactory, record: Mapping[str, Any]) -> None:
    try:
        clients("s3").delete_bucket_policy(Bucket=record["physical_id"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucket":  # went with its bucket
            raise


# -- SNS topic policy ----------------------------------------------------------------------------
def _topic_policy(clients: ClientFactory, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    sns = clients("sns")
    topics = [str(t) for t in props.get("Topics") or []]
    policy = _policy_text(props["PolicyDocument"])
    for topic in topics:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)
    stored = [json.loads(sns.get_topic_attributes(TopicArn=t)["Attributes"]["Policy"]) for t in topics]
    wanted = json.loads(policy)
    return ApiOutcome(
        logical_id,
        "AWS::SNS::TopicPolicy",
        created=bool(topics) and all(s.get("Statement") == wanted.get("Statement") for s in stored),
        ref=logical_id,
        physical_id=",".join(topics),
        attributes={"Id": logical_id},
    )


def _delete_topic_policy(clients: ClientFactory, record: Mapping[str, Any]) -> None:
    # A topic always has a policy: this one goes when its topic does (DeleteStack, before this).
    sns = clients("sns")
    for topic in filter(None, str(record.get("physical_id", "")).split(",")):
        try:
            sns.get_topic_attributes(TopicArn=topic)
        except ClientError:
            continue
        raise RuntimeError(f"topic {topic} still exists, so its policy does too")


# -- CloudWatch alarm ----------------------------------------------------------------------------
def _alarm(clients: ClientFactory, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    cloudwatch = clients("cloudwatch")
    props = dict(props)
    notes = []
    if not props.get("AlarmName"):
        props["AlarmName"] = _generated_name(ctx, logical_id)
        notes.append(f"no AlarmName: named {props['AlarmName']}")
    params, dropped = api_params(cloudwatch, "PutMetricAlarm", props)
    cloudwatch.put_metric_alarm(**params)
    found = cloudwatch.describe_alarms(AlarmNames=[params["AlarmName"]])["MetricAlarms"]
    arn = found[0]["AlarmArn"] if found else ""
    return ApiOutcome(
        logical_id,
        "AWS::CloudWatch::Alarm",
        created=bool(found),
        ref=params["AlarmName"],
        physical_id=params["AlarmName"],
        attributes={"Arn": arn},
        notes=notes + _dropped(dropped),
    )


def _delete_alarm(clients: ClientFactory, record: Mapping[str, Any]) -> None:
    clients("cloudwatch").delete_alarms(AlarmNames=[record["physical_id"]])


# -- Budget ----------------------------------------------------------------------------------------
def _budget(clients: ClientFactory, logical_id: str, props: dict[str, Any], ctx: Context) -> ApiOutcome:
    budgets = clients("budgets")
    props = dict(props)
    data = dict(props.get("Budget") or {})
    notes = []
    if not data.get("BudgetName"):
        data["BudgetName"] = _generated_name(ctx, logical_id)
        notes.append(f"no BudgetName: named {data['BudgetName']}")
    request = {
        "AccountId": ctx["account_id"],
        "Budget": data,
        "NotificationsWithSubscribers": [
            n for n in props.get("NotificationsWithSubscribers") or [] if n.get("Subscribers")
        ],
    }
    params, dropped = api_params(budgets, "CreateBudget", request)
    budgets.create_budget(**params)
    described = budgets.describe_budget(AccountId=ctx["account_id"], BudgetName=data["BudgetName"])["Budget"]
    return ApiOutcome(
        logical_id,
        "AWS::Budgets::Budget",
        created=described.get("BudgetName") == data["BudgetName"],
        ref=data["BudgetName"],
        physical_id=data["BudgetName"],
        notes=notes + _dropped(dropped),
    )


def _delete_budget(clients: ClientFactory, record: Mapping[str, Any]) -> None:
    clients("budgets").delete_budget(AccountId=record["account_id"], BudgetName=record["physical_id"])


# -- Glue database -------------------------------------------------------------------------------
def _glue_database(
    clients: ClientFactory, logical_id: str, props: dict[str, Any], ctx: Context
) -> ApiOutcome:
    glue = clients("glue")
    props = dict(props)
    props.pop("CatalogId", None)  # the account's catalog, the only one moto has
    params, dropped = api_params(glue, "CreateDatabase", props)
    name = params["DatabaseInput"]["Name"]
    glue.create_database(**params)
    described = glue.get_database(Name=name)["Database"]
    return ApiOutcome(
        logical_id,
        "AWS::Glue::Database",
        created=described.get("Name") == name,
        ref=name,
        physical_id=name,
        notes=_dropped(dropped),
    )


def _delete_glue_database(clients: ClientFactory, record: Mapping[str, Any]) -> None:
    clients("glue").delete_database(Name=record["physical_id"])


# -- Step Functions state machine ------------------------------------------------------------------
def _state_machine(
    clients: ClientFactory, logical_id: str, props: dict[str, Any], ctx: Context
) -> ApiOutcome:
    sfn = clients("stepfunctions")
    notes = []
    name = props.get("StateMachineName")
    if not name:
        # CloudFormation would generate <LogicalId>-<random>; stable here so a redeploy finds it.
        name = f"{logical_id}-{ctx.get('stack_name', 'stack')}"[:80]
        notes.append(f"no StateMachineName: named {name}")
    definition = props.get("DefinitionString")
    if not isinstance(definition, str):
        definition = json.dumps(props.get("Definition") or {})
    request: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": props["RoleArn"],
        "type": props.get("StateMachineType", "STANDARD"),
        "tags": [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags") or []],
    }
    for cfn_key, api_key in (("LoggingConfiguration", "loggingConfiguration"), ("TracingConfiguration", "tracingConfiguration")):
        if props.get(cfn_key):
            request[api_key] = _lower_keys(props[cfn_key])
    arn = sfn.create_state_machine(**request)["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    return ApiOutcome(
        logical_id,
        "AWS::StepFunctions::StateMachine",
        created=described.get("definition") == definition,
        ref=arn,
        physical_id=arn,
        attributes={"Arn": arn, "Name": name},
        notes=notes,
    )


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase keys as the Step Functions API's camelCase ones."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _delete_state_machine(clients: ClientFactory, record: Mapping[str, Any]) -> None:
    clients("stepfunctions").delete_state_machine(stateMachineArn=record["physical_id"])


CREATORS: dict[str, Creator] = {
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Budgets::Budget": _budget,
    "AWS::Glue::Database": _glue_database,
    "AWS::StepFunctions::StateMachine": _state_machine,
}

DELETERS: dict[str, Deleter] = {
    "AWS::S3::BucketPolicy": _delete_bucket_policy,
    "AWS::SNS::TopicPolicy": _delete_topic_policy,
    "AWS::CloudWatch::Alarm": _delete_alarm,
    "AWS::Budgets::Budget": _delete_budget,
    "AWS::Glue::Database": _delete_glue_database,
    "AWS::StepFunctions::StateMachine": _delete_state_machine,
}

SERVICES = {
    "AWS::S3::BucketPolicy": "S3",
    "AWS::SNS::TopicPolicy": "SNS",
    "AWS::CloudWatch::Alarm": "CloudWatch",
    "AWS::Budgets::Budget": "Budgets",
    "AWS::Glue::Database": "Glue",
    "AWS::StepFunctions::StateMachine": "Step Functions",
}


def is_api_type(cfn_type: str) -> bool:
    return cfn_type in CREATORS


def create(
    clients: ClientFactory, logical_id: str, cfn_type: str, props: dict[str, Any], ctx: Context
) -> ApiOutcome:
    """Create one resource through its service API and verify it; failures come back as outcomes."""
    try:
        outcome = CREATORS[cfn_type](clients, logical_id, props, ctx)
    except NotApplied as why:
        return ApiOutcome(logical_id, cfn_type, created=False, ref=f"{logical_id}-local", reason=str(why))
    except Exception as error:  # the API's own message is the most useful thing to report
        return ApiOutcome(
            logical_id,
            cfn_type,
            created=False,
            failed=True,
            ref=f"{logical_id}-local",
            reason=f"{type(error).__name__}: {error}",
        )
    if not outcome.created:
        outcome.failed = True
        outcome.reason = outcome.reason or "the describe call did not return what was created"
    return outcome


__all__ = ["CREATORS", "DELETERS", "SERVICES", "create", "is_api_type"]
