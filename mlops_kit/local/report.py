"""What a local deploy did, per stack and per resource type, and a plain-text table of it.

Each resource ends in exactly one column:

``cloudformation``  created by moto's CloudFormation and found again by a describe/list call
``api``             created through the service API (SageMaker types moto's CloudFormation skips)
                    and found again by a describe call
``unchecked``       nothing created or checked it: custom resources, types moto supports nowhere,
                    native types without a verifier; each with its reason
``failed``          creation failed, or the describe call did not find it; the deploy exits non-zero
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

CLOUDFORMATION = "cloudformation"
SERVICE_API = "api"
UNCHECKED = "unchecked"
FAILED = "failed"
COLUMNS = (CLOUDFORMATION, SERVICE_API, UNCHECKED, FAILED)
HEADINGS = {
    CLOUDFORMATION: "by CloudFormation",
    SERVICE_API: "via service API",
    UNCHECKED: "unchecked",
    FAILED: "failed",
}


@dataclass
class ResourceResult:
    logical_id: str
    cfn_type: str
    outcome: str  # one of COLUMNS
    physical_id: str = ""
    reason: str = ""


@dataclass
class StackReport:
    stack_name: str
    results: list[ResourceResult] = field(default_factory=list)
    error: str | None = None  # a stack-level failure (create/update refused, dependency failed)
    seconds: float = 0.0
    waves: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not any(r.outcome == FAILED for r in self.results)

    def add(self, result: ResourceResult) -> None:
        self.results.append(result)

    def counts(self) -> dict[str, Counter[str]]:
        """``{resource type: Counter(column -> count)}``."""
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for result in self.results:
            table[result.cfn_type][result.outcome] += 1
        return dict(table)

    def column(self, outcome: str) -> Counter[str]:
        """``Counter(resource type -> count)`` for one column."""
        return Counter(r.cfn_type for r in self.results if r.outcome == outcome)

    def totals(self) -> Counter[str]:
        return Counter(r.outcome for r in self.results)

    def by_outcome(self, outcome: str) -> list[ResourceResult]:
        return [r for r in self.results if r.outcome == outcome]


@dataclass
class DeployResult:
    stacks: list[StackReport]
    bootstrap: str = ""  # how the environment was bootstrapped
    seconds: float = 0.0
    endpoint: str = ""

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stacks)

    def stack(self, name: str) -> StackReport:
        for report in self.stacks:
            if report.stack_name == name:
                return report
        raise KeyError(name)


def render_table(reports: Iterable[StackReport], reasons: bool = True) -> str:
    """One block per stack: a row per resource type, a column per outcome, then the reasons."""
    lines: list[str] = []
    for report in reports:
        counts = report.counts()
        type_width = max(len("resource type"), len("total"), *(len(t) for t in counts))
        widths = [max(len(HEADINGS[c]), 5) for c in COLUMNS]
        status = "ok" if report.ok else "FAILED"
        lines.append(
            f"{report.stack_name}  ({status}, {len(report.results)} resources, "
            f"{report.waves} wave{'s' if report.waves != 1 else ''}, {report.seconds:.1f} s)"
        )
        header = (
            "  "
            + "resource type".ljust(type_width)
            + "".join("  " + HEADINGS[c].rjust(w) for c, w in zip(COLUMNS, widths, strict=True))
        )
        lines.append(header)
        lines.append("  " + "-" * (len(header) - 2))
        for cfn_type in sorted(counts):
            row = counts[cfn_type]
            lines.append(
                "  "
                + cfn_type.ljust(type_width)
                + "".join(
                    "  " + (str(row[c]) if row[c] else "-").rjust(w)
                    for c, w in zip(COLUMNS, widths, strict=True)
                )
            )
        totals = report.totals()
        lines.append("  " + "-" * (len(header) - 2))
        lines.append(
            "  "
            + "total".ljust(type_width)
            + "".join("  " + str(totals[c]).rjust(w) for c, w in zip(COLUMNS, widths, strict=True))
        )
        if report.error:
            lines.append(f"  error: {report.error}")
        if reasons:
            for result in report.results:
                if result.outcome in (UNCHECKED, FAILED) and result.reason:
                    lines.append(
                        f"  {result.outcome}: {result.logical_id} ({result.cfn_type}): {result.reason}"
                    )
            for note in report.notes:
                lines.append(f"  note: {note}")
        lines.append("")
    return "\n".join(lines)
