"""The mlops-kit command as users run it: real processes, exit codes, what is (not) written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlops_kit.checks import summarize
from tests.conftest import ROOT

KIT = [sys.executable, "-m", "mlops_kit"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # This checkout's package, not whichever one the shared environment has installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([*KIT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False, env=env)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A checkout-like folder: the shipped kit.yaml and the CDK app, sharing .venv and node_modules."""
    for name in ("kit.yaml", "cdk.json", "app.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    for name in (".venv", "node_modules"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".venv" not in p.parts and "node_modules" not in p.parts)


def assert_plain_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_validate_accepts_the_shipped_config(workdir: Path) -> None:
    result = run("validate", cwd=workdir)
    assert result.returncode == 0
    assert "kit.yaml: valid (prefix mlops, 2 AZs, internet none, 0 project(s))" in result.stdout


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("network:\n  cidr: 300.1.0.0/16\n", ("kit.yaml:2: network.cidr:", "private network")),
        ("network:\n  az_count: 9\n", ("kit.yaml:2: network.az_count:",)),
        ("netwerk: {}\n", ("kit.yaml:1: netwerk: unknown key 'netwerk'; allowed keys: prefix",)),
        ("network: [\n", ("YAML syntax error",)),
        ("personas:\n  ml_engineer: [arn:aws:iam::1:role/x]\n", ("personas.ml_engineer[0]", "IAM principal ARN")),
    ],
)
def test_fails_if_config_is_bad_with_one_plain_line(workdir: Path, text: str, needles: tuple[str, ...]) -> None:
    (workdir / "kit.yaml").write_text(text)
    assert_plain_error(run("validate", cwd=workdir), *needles)


def test_fails_if_config_is_missing(workdir: Path) -> None:
    assert_plain_error(run("validate", "--config", "absent.yaml", cwd=workdir), "absent.yaml: file not found")


def test_fails_if_synth_config_is_bad_and_leaves_cdk_out_untouched(workdir: Path) -> None:
    out = workdir / "cdk.out"
    out.mkdir()
    (out / "marker").write_text("last good synth")
    (workdir / "kit.yaml").write_text("prefix: NOT_VALID\n")
    assert_plain_error(run("synth", cwd=workdir), "kit.yaml:1: prefix:")
    assert [p.name for p in out.iterdir()] == ["marker"]
    assert not list(workdir.glob(".cdk.out.*"))


def test_schema_validates_the_shipped_config(workdir: Path) -> None:
    result = run("schema", cwd=workdir)
    assert result.returncode == 0
    schema = json.loads((workdir / "kit.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "kit.yaml").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"network": {"internet": "public"}}, schema)
    assert "projects" not in schema["properties"]


def test_new_project_then_cdk_synth_is_nag_and_lint_clean(workdir: Path) -> None:
    result = run("new-project", "churn", "--template", "tabular-training", "--owner", "arn:aws:iam::111122223333:role/Churn", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "mlops-kit synth --project churn" in result.stdout
    assert (workdir / "projects" / "churn.yaml").is_file()
    assert (workdir / "projects" / "churn" / "steps" / "train.py").is_file()

    listed = run("projects", cwd=workdir)
    assert "churn" in listed.stdout and "tabular-training" in listed.stdout

    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONPATH": str(ROOT)}
    synth = subprocess.run(
        [str(workdir / "node_modules" / ".bin" / "cdk"), "synth", "Project-churn", "--quiet"],
        cwd=workdir, capture_output=True, text=True, timeout=600, env=env, check=False,
    )
    assert synth.returncode == 0, synth.stderr[-3000:]
    summary = summarize(workdir / "cdk.out")
    project = next(s for s in summary.stacks if s.name == "Project-churn")
    assert project.nag_unsuppressed == 0
    assert project.lint_errors == []
    assert summary.ok, summary.render()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("Bad_Name", "-t", "tabular-training"), ("NAME: got 'Bad_Name'", "lowercase letters")),
        (("x" * 31, "-t", "tabular-training"), ("2 to 30 characters",)),
        (("churn", "-t", "deep-learning"), ("--template: got 'deep-learning'; allowed: tabular-training, batch-inference",)),
        (("churn", "-t", "tabular-training", "--owner", "bob"), ("--owner: got 'bob'",)),
    ],
)
def test_fails_if_new_project_input_is_bad_and_writes_nothing(workdir: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    before = tree(workdir)
    assert_plain_error(run("new-project", *args, cwd=workdir), *needles)
    assert tree(workdir) == before


def test_fails_if_project_exists_and_keeps_it(workdir: Path) -> None:
    assert run("new-project", "churn", "-t", "tabular-training", cwd=workdir).returncode == 0
    before = (workdir / "projects" / "churn.yaml").read_text()
    assert_plain_error(run("new-project", "churn", "-t", "batch-inference", cwd=workdir), "projects/churn.yaml already exists")
    assert (workdir / "projects" / "churn.yaml").read_text() == before


def test_fails_if_a_project_file_is_bad_naming_that_file(workdir: Path) -> None:
    assert run("new-project", "churn", "-t", "tabular-training", cwd=workdir).returncode == 0
    path = workdir / "projects" / "churn.yaml"
    path.write_text(path.read_text().replace("threshold: 0.7", "threshold: 7"))
    assert_plain_error(run("validate", cwd=workdir), "projects/churn.yaml:", "pipeline.threshold")


def test_seed_tests_of_a_new_project_pass_as_its_build_runs_them(workdir: Path) -> None:
    assert run("new-project", "churn", "-t", "tabular-training", cwd=workdir).returncode == 0
    seed = workdir / "projects" / "churn"
    # What the build's Update step runs and what its steps install come with the seed.
    assert (seed / "pipeline.py").read_text() == (ROOT / "mlops_kit" / "templates" / "seed" / "pipeline.py").read_text()
    assert "sagemaker>=3.27,<4" in (seed / "requirements.txt").read_text()
    # The build's Test step: `python -m pytest -q` inside the seed folder.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=seed, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed" in result.stdout


def test_version_and_short_help(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result
    assert result.stdout == f"mlops-kit {version('sagemaker-mlops-kit')}\n"
    short = run("-h", cwd=tmp_path)
    assert short.returncode == 0, short
    assert "Usage: mlops-kit" in short.stdout and "new-project" in short.stdout
    assert tree(tmp_path) == []


def test_fails_if_deploy_stack_matches_nothing(tmp_path: Path) -> None:
    # A one-stack cloud assembly is enough: the selection is checked before any server starts.
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    (assembly / "Backbone.template.json").write_text('{"Resources": {}}')
    (assembly / "manifest.json").write_text(
        json.dumps(
            {
                "version": "43.0.0",
                "artifacts": {
                    "Backbone": {
                        "type": "aws:cloudformation:stack",
                        "environment": "aws://unknown-account/unknown-region",
                        "properties": {"templateFile": "Backbone.template.json"},
                    }
                },
            }
        )
    )
    result = run("deploy", "--local", "--assembly", str(assembly), "--stack", "NoSuchStack*", cwd=tmp_path)
    assert_plain_error(result, "--stack: no stack matches NoSuchStack*; the assembly has: Backbone")
    assert "embedded AWS" not in result.stdout


def test_cost_prints_the_estimate_per_stack_and_in_total(default_app: object, tmp_path: Path) -> None:
    import aws_cdk as cdk

    from mlops_kit.costs import estimate

    assert isinstance(default_app, cdk.App)
    assembly = Path(default_app.outdir)
    result = run("cost", "--assembly", str(assembly), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = estimate(assembly)
    assert result.stdout.strip() == expected.render()
    assert f"{expected.idle_total:.2f}" in next(line for line in result.stdout.splitlines() if "TOTAL idle" in line)
    brief = run("cost", "--assembly", str(assembly), "--brief", cwd=tmp_path)
    assert brief.stdout.strip() == expected.brief()
    # synth and check end with the same total (both summarise through _report).
    checked = run("check", "--assembly", str(assembly), cwd=tmp_path)
    assert checked.stdout.strip().splitlines()[-1] == expected.brief() + " (`mlops-kit cost` itemises it)", checked.stdout[-2000:]


def test_fails_if_cost_has_no_assembly_and_writes_nothing(tmp_path: Path) -> None:
    result = run("cost", "--assembly", str(tmp_path / "nope"), cwd=tmp_path)
    assert_plain_error(result, "manifest.json not found", "run `mlops-kit synth` first")
    assert tree(tmp_path) == []


def test_execution_policy_prints_the_policy_for_the_configured_prefix(workdir: Path) -> None:
    (workdir / "kit.yaml").write_text((ROOT / "kit.yaml").read_text().replace("prefix: mlops", "prefix: acme"))
    result = run("execution-policy", cwd=workdir)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    kit_iam = next(s for s in document["Statement"] if s["Sid"] == "KitRolesAndPolicies")
    assert "arn:aws:iam::*:role/acme-*" in kit_iam["Resource"]
    assert tree(workdir) == ["app.py", "cdk.json", "kit.yaml"]  # printed, nothing written


def test_fails_if_execution_policy_config_is_bad(workdir: Path) -> None:
    (workdir / "kit.yaml").write_text("prefix: Not-Valid\n")
    assert_plain_error(run("execution-policy", cwd=workdir), "kit.yaml", "prefix")
