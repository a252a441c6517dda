"""``mlops-kit report``: one self-contained HTML page about a synthesized platform.

It shows the three tiers with what this config builds (an SVG drawn from the cloud assembly),
the persona x tier table, the check results (cdk-nag per pack, cfn-lint), the idle cost estimate
and the projects with their pipelines' steps. It reads only the cloud assembly: writing it needs
no browser, no account and no network.
"""

from __future__ import annotations

from pathlib import Path

from mlops_kit.report.collect import Report, collect
from mlops_kit.report.page import render_html


def write_report(assembly: Path, output: Path, *, use_cache: bool = True) -> Report:
    """Collect, render and write the page to ``output``; the collected facts come back for callers."""
    report = collect(assembly, use_cache=use_cache)
    output.write_text(render_html(report), encoding="utf-8")
    return report


__all__ = ["Report", "collect", "render_html", "write_report"]
