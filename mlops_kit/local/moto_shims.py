"""Narrow patches that the embedded moto server loads so the deploy flow can execute in it.

``python -m mlops_kit.local.moto_shims -H 127.0.0.1 -p PORT`` installs them, then runs moto's
own server (``moto.server.main``): the patches live in the server process, next to moto's
backends, and the state machine definition stays exactly as synthesized (rewriting it would hide
its defects). Each shim fills one gap of moto 5.2.5 and is listed in ``SHIMS``, which the demo
prints once:

``sagemaker-events``    moto's SageMaker emits no EventBridge events. AWS sends "SageMaker Model
                        Package State Change" to the default bus when a package is created and
                        when its approval status changes:
                        https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
``sfn-targets``         moto's EventBridge raises ``NotImplementedError`` (a 500 on PutEvents) for
                        a rule whose target is a state machine; AWS starts an execution with the
                        (transformed) event as input and a generated name.
``autoscaling-name``    moto's ASL interpreter maps the aws-sdk service ``applicationautoscaling``
                        to no boto3 client (boto3 calls it ``application-autoscaling``).
``update-endpoint``     moto has no ``UpdateEndpoint``: here it switches the endpoint to the new
                        config in place (same ARN and creation time, the update path of the flow).
``monitoring``          moto has no monitoring schedules: Create/Describe/List/Update/Delete keep them in
                        the SageMaker backend (nothing is ever run on the schedule).
``sdk-timestamps``      moto's ASL interpreter keeps an aws-sdk task's answer with Python datetimes
                        (CreationTime, ...), which its DescribeExecution cannot serialize; AWS puts
                        timestamps in the state as ISO strings. Here they become ISO strings.
``model-exists``        moto's ``CreateModel`` overwrites a model of the same name; AWS refuses it
                        ("Cannot create already existing model"), which the flow's duplicate
                        guard relies on.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

SHIMS: dict[str, str] = {
    "sagemaker-events": "SageMaker sends Model Package State Change events to EventBridge",
    "sfn-targets": "EventBridge rules start their Step Functions targets",
    "autoscaling-name": "the aws-sdk service name applicationautoscaling reaches Application Auto Scaling",
    "update-endpoint": "SageMaker UpdateEndpoint switches an endpoint to a new config in place",
    "monitoring": "SageMaker monitoring schedules are recorded (never run)",
    "model-exists": "SageMaker CreateModel refuses an existing name, as AWS does",
    "sdk-timestamps": "timestamps in aws-sdk task results are ISO strings in the execution's state",
}

STATE_CHANGE = "SageMaker Model Package State Change"
_installed = False


def _sagemaker_backend(response: Any) -> Any:
    return response.sagemaker_backend


def _validation(message: str) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)


# -- sagemaker-events ------------------------------------------------------------------------
def package_event(package: Any, account_id: str, region: str) -> dict[str, Any]:
    """The PutEvents entry SageMaker sends for ``package`` (the fields AWS documents for it)."""
    detail = {
        "ModelPackageGroupName": package.model_package_group_name,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageName": package.model_package_name,
        "ModelApprovalStatus": package.model_approval_status,
        "CreationTime": str(package.creation_time),
        "LastModifiedTime": str(package.last_modified_time),
    }
    return {
        "Source": "aws.sagemaker",
        "DetailType": STATE_CHANGE,
        "Detail": json.dumps(detail, default=str),
        "Resources": [package.arn],
        "EventBusName": "default",
    }


def _emit(backend: Any, package: Any) -> None:
    from moto.events.models import events_backends

    events_backends[backend.account_id][backend.region_name].put_events(
        [package_event(package, backend.account_id, backend.region_name)]
    )


def _package_events() -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    original_create = SageMakerModelBackend.create_model_package
    original_update = SageMakerModelBackend.update_model_package

    def create_model_package(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = original_create(self, *args, **kwargs)
        package = self.model_packages.get(self.model_package_name_mapping.get(arn, arn))
        if package is not None and package.model_package_group_name:
            _emit(self, package)
        return arn

    def update_model_package(self: Any, model_package_arn: str, model_approval_status: str | None, *args: Any, **kwargs: Any) -> Any:
        package = self.model_packages.get(self.model_package_name_mapping.get(model_package_arn, model_package_arn))
        before = package.model_approval_status if package is not None else None
        arn = original_update(self, model_package_arn, model_approval_status, *args, **kwargs)
        if package is not None and model_approval_status is not None and model_approval_status != before:
            _emit(self, package)
        return arn

    SageMakerModelBackend.create_model_package = create_model_package  # type: ignore[method-assign]
    SageMakerModelBackend.update_model_package = update_model_package  # type: ignore[method-assign]


# -- sfn-targets -----------------------------------------------------------------------------
def _stepfunctions_targets() -> None:
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        machines = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        if not machines:
            original(self, original_event, transform_input)
            return
        others = [t for t in self.targets if t not in machines]
        self.targets = others
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = others + machines
        if not self.event_pattern.matches_event(original_event):
            return
        for target in machines:
            transformer = target.get("InputTransformer", {}) if transform_input else {}
            event = EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),  # type: ignore[arg-type]
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=original_event,
            )
            arn = parse_arn(target["Arn"])
            try:
                # A generated name, as EventBridge gives: duplicates are the flow's to refuse.
                get_backend(arn.account, arn.region).start_execution(
                    target["Arn"],
                    name=str(uuid.uuid4()),
                    execution_input=event if isinstance(event, str) else json.dumps(event, default=str),
                )
            except Exception as error:  # delivery is asynchronous in AWS: never fail the event's sender
                print(f"mlops-kit shim sfn-targets: {target['Arn']} not started: {error}", file=sys.stderr)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


# -- autoscaling-name ------------------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value.isoformat() if isinstance(value, datetime) else value


def _sdk_timestamps() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    original = StateTaskServiceAwsSdk._eval_service_task

    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, env, *args, **kwargs)
        if env.stack:
            env.stack[-1] = _json_safe(env.stack[-1])
        return result

    StateTaskServiceAwsSdk._eval_service_task = _eval_service_task  # type: ignore[method-assign]


def _autoscaling_name() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["applicationautoscaling"] = "application-autoscaling"


# -- update-endpoint, monitoring, model-exists -------------------------------------------------
def _update_endpoint(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    backend = _sagemaker_backend(self)
    name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise _validation(f"Could not find endpoint \"{name}\".")
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        raise _validation(f"Could not find endpoint configuration \"{config_name}\".")
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"  # AWS passes through Updating; moto has no clock for it
    return ActionResult({"EndpointArn": endpoint.arn})


def _schedules(backend: Any) -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_mlops_kit_monitoring_schedules", {})
    return store


def _schedule_arn(backend: Any, name: str) -> str:
    return f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:monitoring-schedule/{name.lower()}"


def _create_monitoring_schedule(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ResourceInUseException

    backend = _sagemaker_backend(self)
    name = self._get_param("MonitoringScheduleName")
    store = _schedules(backend)
    if name in store:
        raise ResourceInUseException(message=f"Monitoring schedule {name} already exists")
    config = self._get_param("MonitoringScheduleConfig") or {}
    now = utcnow()
    store[name] = {
        "MonitoringScheduleArn": _schedule_arn(backend, name),
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringType": config.get("MonitoringType", "DataQuality"),
        "CreationTime": now,
        "LastModifiedTime": now,
        "MonitoringScheduleConfig": config,
        "EndpointName": next(
            (i["EndpointInput"]["EndpointName"] for i in (config.get("MonitoringJobDefinition") or {}).get("MonitoringInputs", []) if "EndpointInput" in i),
            None,
        ),
    }
    return ActionResult({"MonitoringScheduleArn": store[name]["MonitoringScheduleArn"]})


def _describe_monitoring_schedule(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = _sagemaker_backend(self)
    name = self._get_param("MonitoringScheduleName")
    schedule = _schedules(backend).get(name)
    if schedule is None:
        raise _validation(f"Monitoring schedule {name} not found")
    return ActionResult({k: v for k, v in schedule.items() if v is not None})


def _list_monitoring_schedules(self: Any) -> Any:
    from moto.core.responses import ActionResult

    endpoint = self._get_param("EndpointName")
    summaries = [
        {k: s[k] for k in ("MonitoringScheduleName", "MonitoringScheduleArn", "CreationTime", "LastModifiedTime", "MonitoringScheduleStatus", "EndpointName", "MonitoringType") if s.get(k) is not None}
        for s in _schedules(_sagemaker_backend(self)).values()
        if endpoint is None or s.get("EndpointName") == endpoint
    ]
    return ActionResult({"MonitoringScheduleSummaries": summaries})


def _update_monitoring_schedule(self: Any) -> Any:
    """A new version's deployment points the schedule at its own baseline: the config is replaced."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    backend = _sagemaker_backend(self)
    name = self._get_param("MonitoringScheduleName")
    schedule = _schedules(backend).get(name)
    if schedule is None:
        raise _validation(f"Monitoring schedule {name} not found")
    schedule["MonitoringScheduleConfig"] = self._get_param("MonitoringScheduleConfig") or {}
    schedule["LastModifiedTime"] = utcnow()
    return ActionResult({"MonitoringScheduleArn": schedule["MonitoringScheduleArn"]})


def _delete_monitoring_schedule(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    backend = _sagemaker_backend(self)
    name = self._get_param("MonitoringScheduleName")
    if _schedules(backend).pop(name, None) is None:
        raise _validation(f"Monitoring schedule {name} not found")
    return EmptyResult()


def _sagemaker_gaps() -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    handlers: dict[str, Callable[[Any], Any]] = {
        "update_endpoint": _update_endpoint,
        "create_monitoring_schedule": _create_monitoring_schedule,
        "describe_monitoring_schedule": _describe_monitoring_schedule,
        "list_monitoring_schedules": _list_monitoring_schedules,
        "update_monitoring_schedule": _update_monitoring_schedule,
        "delete_monitoring_schedule": _delete_monitoring_schedule,
    }
    for action, handler in handlers.items():
        setattr(SageMakerResponse, action, handler)

    original_create_model = SageMakerModelBackend.create_model

    def create_model(self: Any, model_name: str, *args: Any, **kwargs: Any) -> Any:
        if model_name in self._models:
            arn = f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:model/{model_name.lower()}"
            raise _validation(f"Cannot create already existing model \"{arn}\".")
        return original_create_model(self, model_name, *args, **kwargs)

    SageMakerModelBackend.create_model = create_model  # type: ignore[method-assign]


def install() -> None:
    """Apply every shim once (idempotent), in the process that runs moto's backends."""
    global _installed
    if _installed:
        return
    _package_events()
    _stepfunctions_targets()
    _autoscaling_name()
    _sdk_timestamps()
    _sagemaker_gaps()
    _installed = True


def main(argv: list[str] | None = None) -> None:
    """``moto_server`` with the shims installed (same arguments)."""
    install()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
