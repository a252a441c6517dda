"""The shipped platform (three tiers, one example project) deployed to the embedded AWS, then the
end-to-end flow: pipeline run, model registered and approved, approval rule and deploy flow,
project stack destroyed, retained data still there. Once in-process, once through the real CLI.

The shipped config is synthesized once for the module (~30 s on two cores); each deploy starts
its own moto server and must leave no process behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
import psutil
import pytest

from mlops_kit.app import build_app
from mlops_kit.cli_support import NEXT_STEPS
from mlops_kit.config import load_config
from mlops_kit.local import DeployResult, EmbeddedAws, deploy_assembly, render_table
from mlops_kit.local.demo import run_demo
from mlops_kit.local.deploy import find_cdk_cli
from mlops_kit.local.report import CLOUDFORMATION, FAILED, SERVICE_API, UNCHECKED

from ..conftest import ROOT, feature_flags

pytestmark = pytest.mark.integration

STACKS = ["mlops-backbone", "mlops-shared-assets", "mlops-project-credit-risk"]
PROJECT_STACK = "mlops-project-credit-risk"
GROUP = "mlops-credit-risk"


@pytest.fixture(scope="module")
def platform_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``kit.yaml`` and ``projects/`` as shipped, synthesized in-process once."""
    outdir = tmp_path_factory.mktemp("platform") / "cdk.out"
    app = cdk.App(context=feature_flags(), outdir=str(outdir))
    build_app(load_config(ROOT / "kit.yaml"), app=app, projects_dir=ROOT / "projects")
    app.synth()
    return outdir


@dataclass
class Run:
    deploy: DeployResult
    demo_ok: bool
    lines: list[str]
    pid: int
    seconds: dict[str, float]
    after: dict[str, object] = field(default_factory=dict)


@pytest.fixture(scope="module")
def run(platform_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Deploy and run the demo inside one server's lifetime; tests look at what was collected."""
    lines: list[str] = []
    seconds: dict[str, float] = {}
    started = time.monotonic()
    with EmbeddedAws(log_file=tmp_path_factory.mktemp("moto") / "moto.log") as aws:
        assert aws.pid is not None
        pid = aws.pid
        seconds["server start"] = time.monotonic() - started
        result = deploy_assembly(
            platform_assembly, aws, cdk_command=find_cdk_cli(ROOT) or False, progress=lines.append
        )
        seconds["deploy"] = result.seconds
        mark = time.monotonic()
        demo_ok = run_demo(aws, platform_assembly, progress=lines.append) if result.ok else False
        seconds["demo"] = time.monotonic() - mark
        # What is left once the project stack is gone, asked independently of the demo's own checks.
        cf, sm, s3 = aws.client("cloudformation"), aws.client("sagemaker"), aws.client("s3")
        active = [
            s["StackName"] for s in cf.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"
        ]
        approved = sm.list_model_packages(ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved")[
            "ModelPackageSummaryList"
        ]
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        project_bucket = next((b for b in buckets if b.startswith(f"{PROJECT_STACK}-projectdata")), None)
        keys = (
            [o["Key"] for o in s3.list_objects_v2(Bucket=project_bucket).get("Contents", [])]
            if project_bucket
            else []
        )
        # The deploy flow's runtime resources live outside CloudFormation: nothing of them may stay.
        flow_left = [
            *(e["EndpointName"] for e in sm.list_endpoints(NameContains=GROUP)["Endpoints"]),
            *(c["EndpointConfigName"] for c in sm.list_endpoint_configs(NameContains=GROUP)["EndpointConfigs"]),
            *(m["ModelName"] for m in sm.list_models(NameContains=GROUP)["Models"]),
            *(
                t["ResourceId"]
                for t in aws.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
                    "ScalableTargets"
                ]
                if GROUP in t["ResourceId"]
            ),
        ]
        after = {
            "active": active, "approved": approved, "project_bucket": project_bucket, "keys": keys, "flow_left": flow_left
        }
    seconds["total"] = time.monotonic() - started
    print("\n".join(lines))
    print(render_table(result.stacks))
    print({k: round(v, 1) for k, v in seconds.items()})
    return Run(result, demo_ok, lines, pid, seconds, after)


def test_every_stack_of_the_platform_deploys(run: Run) -> None:
    assert run.deploy.ok, render_table(run.deploy.stacks)
    assert [s.stack_name for s in run.deploy.stacks] == STACKS
    for report in run.deploy.stacks:
        assert report.error is None
        assert not report.column(FAILED), report.by_outcome(FAILED)
        assert report.totals()[CLOUDFORMATION] > 0


def test_the_three_columns_are_sensible(run: Run) -> None:
    backbone, shared, project = (run.deploy.stack(name) for name in STACKS)
    assert backbone.column(CLOUDFORMATION)["AWS::EC2::VPC"] == 1
    assert backbone.column(CLOUDFORMATION)["AWS::EC2::VPCEndpoint"] >= 1
    assert backbone.column(CLOUDFORMATION)["AWS::KMS::Key"] >= 1
    # Only the platform budget goes through a service API (moto's Budgets, which CloudFormation lacks).
    assert set(backbone.column(SERVICE_API)) == {"AWS::Budgets::Budget"}
    assert shared.column(SERVICE_API) == {
        "AWS::SageMaker::Domain": 1,
        "AWS::SageMaker::FeatureGroup": 1,
        "AWS::Glue::Database": 1,
    }
    assert shared.column(CLOUDFORMATION)["AWS::S3::Bucket"] == 3
    assert shared.column(CLOUDFORMATION)["AWS::Events::EventBus"] == 1
    assert project.column(SERVICE_API) == {
        "AWS::SageMaker::ModelPackageGroup": 1,
        "AWS::SageMaker::Pipeline": 1,
        "AWS::SNS::TopicPolicy": 2,  # approval topic and alarm topic, both TLS-only
        "AWS::CloudWatch::Alarm": 3,  # two rollback alarms and the drift alarm of drift_features
        "AWS::Budgets::Budget": 1,
        # Through the Step Functions API: moto's CloudFormation puts it where nothing executes.
        "AWS::StepFunctions::StateMachine": 1,
    }
    # The kit's bucket policies deny plain HTTP; moto would enforce that Deny without its condition.
    for report in (backbone, shared, project):
        policies = [r for r in report.results if r.cfn_type == "AWS::S3::BucketPolicy"]
        assert policies and all(
            r.outcome == UNCHECKED and "aws:SecureTransport" in r.reason for r in policies
        )
    for cfn_type in ("AWS::S3::Bucket", "AWS::Events::Rule"):
        assert project.column(CLOUDFORMATION)[cfn_type] == 1, cfn_type
    # Every unchecked resource says why.
    for report in run.deploy.stacks:
        assert all(r.reason for r in report.by_outcome(UNCHECKED))


def test_end_to_end_flow_passes(run: Run) -> None:
    assert run.demo_ok, "\n".join(run.lines)
    steps = [line for line in run.lines if re.match(r"demo +\d+ ", line)]
    assert len(steps) == 20
    assert not any(" ✗ " in line for line in steps), steps
    for expected in (
        "run the pipeline: train, evaluate, register v1",
        "rebuild the pipeline from its published context",
        "approval rule targets the deploy flow",
        "approve v1 (UpdateModelPackage): the flow deploys staging",
        "v1: production approval request received",
        "v1: send the token back (SendTaskSuccess)",
        "v2 took the update path",
        "a duplicate approval event deploys nothing",
        "remove the deploy flow's endpoints, configs, models, targets, schedules",
        f"destroy {PROJECT_STACK}",
        "retained data is still there",
    ):
        assert any(f"✓ {expected}" in line for line in steps), expected
    assert any(line.startswith("VERDICT: ok") and "accuracy" in line for line in run.lines)
    # The analyzer does not run locally: the package still names its baseline, the demo places the
    # fixture there, and production monitoring is scheduled against it.
    assert any("run the pipeline" in line and "fixture files placed there" in line for line in steps), steps
    assert any("monitoring Scheduled against the package's baseline" in line for line in steps), steps


def test_teardown_leaves_none_of_the_flows_resources(run: Run) -> None:
    assert run.after["flow_left"] == []
    removed = next(line for line in run.lines if "remove the deploy flow's endpoints" in line)
    assert "0 left behind" in removed and "endpoint" in removed


def test_retained_data_outlives_the_project_stack(run: Run) -> None:
    assert run.after["active"] and PROJECT_STACK not in run.after["active"]  # type: ignore[operator]
    assert set(STACKS[:2]) <= set(run.after["active"])  # type: ignore[arg-type]
    assert len(run.after["approved"]) == 2  # type: ignore[arg-type]
    assert run.after["project_bucket"]
    assert "pipeline/raw/credit-risk-demo.csv" in run.after["keys"]  # type: ignore[operator]


def test_no_server_is_left_running(run: Run) -> None:
    assert not _alive(run.pid)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _servers_on(port: str) -> list[int]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = process.info["cmdline"] or []
        if any("moto" in part for part in command) and port in command:
            found.append(process.info["pid"])
    return found


def test_cli_deploy_local_demo_in_a_ci_like_environment(run: Run, platform_assembly: Path) -> None:
    """``python -m mlops_kit deploy --local --demo`` with no AWS variables at all, as on a fresh CI runner."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"CI": "true", "AWS_EC2_METADATA_DISABLED": "true"})
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_kit",
            "deploy",
            "--local",
            "--demo",
            "--assembly",
            str(platform_assembly),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    # Without -v: a line per stack, no per-stack tables; one verdict.
    assert "via service API" not in finished.stdout
    for stack in STACKS:
        assert re.search(rf"^{stack}: done in ", finished.stdout, re.MULTILINE), stack
    assert len(re.findall(r"^VERDICT: ok", finished.stdout, re.MULTILINE)) == 1
    assert finished.stdout.count("sagemaker-events:") == 1  # each caveat said once
    assert len(finished.stdout.splitlines()) < 100, len(finished.stdout.splitlines())  # synth adds ~15: the demo reads in < 120
    assert finished.stdout.rstrip().endswith(NEXT_STEPS[-1]) and "  mlops-kit report " in finished.stdout
    port = re.search(r"embedded AWS on http://127\.0\.0\.1:(\d+)", finished.stdout)
    assert port, finished.stdout[:500]
    assert not _servers_on(port.group(1)), f"moto_server still listening on port {port.group(1)}"
