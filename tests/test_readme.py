"""The README says what the code does: its persona table and its commands are checked here."""

from __future__ import annotations

import re

from mlops_kit.constructs.identity import persona_grants
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()

# Every command in a ```bash block of the README, and where it is exercised.
EXERCISED = {
    "make demo": "CI-equivalent run of `make demo` (and the integration tests for each phase)",
    "make test": ".ci/run",
    ".venv/bin/mlops-kit schema": "tests/cli/test_cli.py::test_schema_validates_the_shipped_config",
    ".venv/bin/mlops-kit validate": "tests/cli/test_cli.py::test_validate_accepts_the_shipped_config",
    ".venv/bin/mlops-kit new-project churn --template tabular-training --owner arn:aws:iam::111122223333:role/ChurnTeam": (
        "tests/cli/test_cli.py::test_new_project_then_cdk_synth_is_nag_and_lint_clean"
    ),
    ".venv/bin/pytest projects/churn/tests": "tests/cli/test_cli.py::test_seed_tests_of_a_new_project_pass",
    "npx cdk synth Project-churn": "tests/cli/test_cli.py::test_new_project_then_cdk_synth_is_nag_and_lint_clean",
    ".venv/bin/mlops-kit synth --project churn": (
        "tests/cli/test_project_synth.py::test_scoped_synth_ignores_a_broken_other_project_and_writes_only_its_stack"
    ),
    ".venv/bin/mlops-kit projects": "tests/cli/test_cli.py::test_new_project_then_cdk_synth_is_nag_and_lint_clean",
    ".venv/bin/mlops-kit run-pipeline credit-risk --local": (
        "tests/local/test_run_pipeline_cli.py::test_runs_the_project_pipeline_in_the_embedded_aws"
    ),
}


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def test_every_readme_command_is_exercised() -> None:
    assert sorted(readme_commands()) == sorted(EXERCISED)


def test_persona_table_matches_the_roles_the_kit_creates() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| ") and "`<prefix>-" in line]
    grants = persona_grants("mlops")
    assert len(rows) == len(grants)
    for (persona, persona_grant), row in zip(grants.items(), rows, strict=True):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[0] == persona.replace("_", " ")
        assert cells[1] == f"`<prefix>-{persona.replace('_', '-')}`"
        for tier in (1, 2, 3):
            purposes = [g.purpose for g in persona_grant if g.tier == tier]
            assert cells[1 + tier] == ("; ".join(purposes) if purposes else "—"), (persona, tier)


def test_tier_diagram_boxes_line_up() -> None:
    """Every line inside a box of the README's diagram closes at the column its top border does."""
    diagram = README.split("```\n", 2)[1]
    left = right = None
    for number, line in enumerate(diagram.splitlines(), start=1):
        if "┌" in line:
            left, right = line.index("┌"), line.index("┐")
        elif left is not None and right is not None and "│" in line[left : left + 1]:
            assert line[right] == "│", f"diagram line {number} closes at the wrong column: {line!r}"
        elif "└" in line:
            assert (line.index("└"), line.index("┘")) == (left, right), f"diagram line {number}: {line!r}"
            left = right = None
