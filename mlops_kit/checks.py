"""Read a synthesized cloud assembly: stacks, resource counts, cdk-nag reports and cfn-lint findings."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StackSummary:
    name: str
    template: Path
    resources: int
    nag_compliant: int = 0
    nag_unsuppressed: int = 0
    nag_suppressed: int = 0
    lint_errors: list[str] = field(default_factory=list)
    lint_warnings: list[str] = field(default_factory=list)


@dataclass
class AssemblySummary:
    stacks: list[StackSummary]

    @property
    def ok(self) -> bool:
        return all(s.nag_unsuppressed == 0 and not s.lint_errors for s in self.stacks)

    def render(self) -> str:
        header = f"{'stack':<44} {'resources':>9} {'nag open':>8} {'nag suppr.':>10} {'lint err':>8} {'lint warn':>9}"
        lines = [header, "-" * len(header)]
        for s in self.stacks:
            lines.append(
                f"{s.name:<44} {s.resources:>9} {s.nag_unsuppressed:>8} {s.nag_suppressed:>10} "
                f"{len(s.lint_errors):>8} {len(s.lint_warnings):>9}"
            )
        total = sum(s.resources for s in self.stacks)
        lines.append("-" * len(header))
        lines.append(f"{len(self.stacks)} stacks, {total} resources: " + ("all checks passed" if self.ok else "CHECKS FAILED"))
        for s in self.stacks:
            lines.extend(f"  {s.name}: {finding}" for finding in s.lint_errors)
        return "\n".join(lines)


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Every stack template in the assembly, nested stages (CDK Pipelines) included, by display name."""
    found: dict[str, Path] = {}
    manifest_path = assembly / "manifest.json"
    if not manifest_path.exists():
        return found
    manifest = json.loads(manifest_path.read_text())
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        kind = artifact.get("type")
        if kind == "aws:cloudformation:stack":
            template = assembly / artifact["properties"]["templateFile"]
            found[artifact.get("displayName", artifact_id)] = template
        elif kind == "cdk:cloud-assembly":
            found.update(stack_templates(assembly / artifact["properties"]["directoryName"]))
    return found


def _nag_rows(assembly: Path) -> list[dict[str, str]]:
    """Every row of cdk-nag's CSV reports below ``assembly`` (stages write their own)."""
    rows: list[dict[str, str]] = []
    for report in sorted(assembly.rglob("*-NagReport.csv")):
        with report.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def lint(template: Path) -> tuple[list[str], list[str]]:
    """cfn-lint errors and warnings for one template (informational findings are dropped)."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(template, config=ManualArgs(regions=["us-east-1"]))
    errors, warnings = [], []
    for match in matches:
        text = f"{match.rule.id} {match.message} ({'/'.join(str(p) for p in match.path or [])})"
        level = match.rule.severity.lower()
        if level == "error":
            errors.append(text)
        elif level == "warning":
            warnings.append(text)
    return errors, warnings


def summarize(assembly: Path, *, run_lint: bool = True) -> AssemblySummary:
    rows = _nag_rows(assembly)
    stacks: list[StackSummary] = []
    for name, template in stack_templates(assembly).items():
        body = json.loads(template.read_text())
        summary = StackSummary(name=name, template=template, resources=len(body.get("Resources", {})))
        counts = Counter(row["Compliance"] for row in rows if row["Resource ID"].startswith(f"{name}/"))
        summary.nag_compliant = counts["Compliant"]
        summary.nag_unsuppressed = counts["Non-Compliant"]
        summary.nag_suppressed = counts["Suppressed"]
        if run_lint:
            summary.lint_errors, summary.lint_warnings = lint(template)
        stacks.append(summary)
    return AssemblySummary(stacks)
