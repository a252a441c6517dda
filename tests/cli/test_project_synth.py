"""Project-scoped synth: one project's stack, its file alone read, under the same checks.

``mlops-kit synth --project NAME`` (which runs ``cdk synth -c project=NAME``) must not read the
other project files, so another team's broken file cannot stop it and its cost does not grow
with ``projects/``; the template it writes is the one the platform's full synth writes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest

from mlops_kit.checks import stack_templates, summarize
from mlops_kit.config import load_config
from tests.cli.test_cli import assert_plain_error, run, tree
from tests.conftest import ROOT, feature_flags, nag_problems

BROKEN = "name: other\ntemplate: no-such-template\npipeline: [unclosed\n"


@pytest.fixture
def team_checkout(tmp_path: Path) -> Path:
    """The shipped kit.yaml and credit-risk project, plus another team's project file that does not even parse."""
    for name in ("kit.yaml", "cdk.json", "app.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    for name in (".venv", "node_modules"):
        (tmp_path / name).symlink_to(ROOT / name)
    projects = tmp_path / "projects"
    projects.mkdir()
    shutil.copy(ROOT / "projects" / "credit-risk.yaml", projects / "credit-risk.yaml")
    shutil.copytree(ROOT / "projects" / "credit-risk", projects / "credit-risk")
    (projects / "other.yaml").write_text(BROKEN)
    return tmp_path


def test_load_config_reads_only_the_named_project(team_checkout: Path) -> None:
    config = load_config(team_checkout / "kit.yaml", project="credit-risk")
    assert [project.name for project in config.projects] == ["credit-risk"]


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("churn", ("projects/churn.yaml: project: no project named 'churn'", "one of credit-risk, other")),
        ("../kit", ("project: got '../kit'", "lowercase letters")),
    ],
)
def test_fails_if_the_project_is_unknown_naming_the_file_and_writes_nothing(
    team_checkout: Path, name: str, needles: tuple[str, ...]
) -> None:
    before = tree(team_checkout)
    assert_plain_error(run("synth", "--project", name, cwd=team_checkout), *needles)
    assert tree(team_checkout) == before


def test_scoped_synth_ignores_a_broken_other_project_and_writes_only_its_stack(team_checkout: Path) -> None:
    # The other file really is broken: the platform's own synth refuses it.
    assert_plain_error(run("validate", cwd=team_checkout), "projects/other.yaml")

    result = run("synth", "--project", "credit-risk", cwd=team_checkout)
    assert result.returncode == 0, result.stderr[-3000:]
    assembly = team_checkout / "cdk.out"
    assert sorted(stack_templates(assembly)) == ["Project-credit-risk"]
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = [key for key, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"]
    assert stacks == ["Project-credit-risk"]
    # The same checks as a full synth: cdk-nag's reports were written for the stack and cfn-lint ran on it.
    reports = sorted(report.name.split("-")[0] for report in assembly.glob("*-mlops-project-credit-risk-NagReport.csv"))
    assert reports == ["AwsSolutions", "KitSageMaker", "NIST.800.53.R5"], reports
    summary = summarize(assembly)
    assert summary.stacks[0].nag_compliant > 0
    assert summary.ok, summary.render()
    assert "1 stacks" in result.stdout and "all checks passed" in result.stdout


@pytest.fixture(scope="module")
def scoped_app(tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    from mlops_kit.app import build_app

    config = load_config(ROOT / "kit.yaml", project="credit-risk")
    app = cdk.App(context=feature_flags(), outdir=str(tmp_path_factory.mktemp("scoped")))
    build_app(config, app=app, projects_dir=ROOT / "projects", project="credit-risk")
    app.synth()
    return app


def test_scoped_template_is_the_full_synths_template(scoped_app: cdk.App, stack_of: Callable[[str], cdk.Stack]) -> None:
    scoped = scoped_app.node.find_child("Project-credit-risk")
    assert isinstance(scoped, cdk.Stack)
    assert [child.node.id for child in scoped_app.node.children if isinstance(child, cdk.Stack)] == ["Project-credit-risk"]
    full = stack_of("Project-credit-risk")
    full_app = full.node.root
    assert isinstance(full_app, cdk.App)
    scoped_body = json.loads(Path(scoped_app.outdir, scoped.template_file).read_text())
    full_body = json.loads(Path(full_app.outdir, full.template_file).read_text())
    assert scoped_body == full_body
    assert nag_problems(scoped) == []
