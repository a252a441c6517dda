"""The report as one self-contained HTML page: inline CSS and SVG, no script, no external URL.

A reviewer can mail it, attach it to a pull request or open it from a CI artifact offline.
Every value is escaped: stack descriptions and step names come from configuration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from html import escape

from mlops_kit.report.collect import TIER_NAMES, ProjectView, Report
from mlops_kit.report.diagram import render_svg

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#111827;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:30px 0 8px;border-bottom:2px solid #e5e7eb;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}p.meta{color:#4b5563;margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 10px}
th,td{border:1px solid #d1d5db;padding:4px 7px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:700}
.verdict{padding:8px 12px;border-radius:6px;font-weight:700;margin:8px 0}.verdict.ok{background:#dcfce7}.verdict.bad{background:#fee2e2}
.steps{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:6px 0}
.step{border:1px solid #b45309;background:#fef3c7;border-radius:14px;padding:3px 10px;font-size:13px}
.step small{color:#6b7280}.arrow{color:#6b7280}code{font-size:12px;background:#f3f4f6;padding:1px 4px;border-radius:3px}
details{font-size:13px;margin:4px 0}ul{margin:4px 0 8px 18px;padding:0}
"""


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    """A table of already-escaped cells; ``numeric`` columns are right-aligned."""
    right = set(numeric)
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append(
            "<tr>" + "".join(f'<td class="num">{c}</td>' if i in right else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        )
    return "".join(out) + "</table>"


def _personas(report: Report) -> str:
    rows = []
    for p in report.personas:
        cells = [escape(p.persona.replace("_", " ")), f"<code>{escape(p.role_name)}</code>", "yes" if p.built else "no"]
        cells += ["; ".join(escape(x) for x in p.purposes(tier)) or "—" for tier in (1, 2, 3)]
        rows.append(cells)
    head = ["persona", "role", "in this build", *(f"tier {t} ({TIER_NAMES[t]})" for t in (1, 2, 3))]
    return (
        '<section id="personas"><h2>Personas &times; tiers</h2>'
        "<p>What each persona role may do per tier (<code>mlops_kit/constructs/identity.py</code>, the README's table); "
        "Studio profiles, project team roles and approvers come on top.</p>" + _table(head, rows) + "</section>"
    )


def _checks(report: Report) -> str:
    checks = report.checks
    ok = checks.ok
    out = [
        '<section id="checks"><h2>Checks</h2>',
        f'<div class="verdict {"ok" if ok else "bad"}">'
        + ("all checks passed: 0 open cdk-nag findings, 0 cfn-lint errors" if ok else "CHECKS FAILED")
        + "</div><h3>cdk-nag, per pack</h3>",
    ]
    rows = []
    for pack, stacks in sorted(report.nag.items()):
        for stack, counts in sorted(stacks.items()):
            open_ = counts["Non-Compliant"]
            rows.append([
                escape(pack), escape(stack), str(counts["Compliant"]),
                f'<span class="{"bad" if open_ else "ok"}">{open_}</span>', str(counts["Suppressed"]),
            ])
    out.append(_table(["pack", "stack", "compliant", "open", "suppressed (with a reason)"], rows, numeric=(2, 3, 4)) if rows
               else "<p>No cdk-nag reports in this assembly.</p>")
    out.append("<h3>cfn-lint</h3>")
    lint_rows = [
        [escape(s.name), str(s.resources), f'<span class="{"bad" if s.lint_errors else "ok"}">{len(s.lint_errors)}</span>',
         str(len(s.lint_warnings))]
        for s in checks.stacks
    ]
    out.append(_table(["stack", "resources", "errors", "warnings"], lint_rows, numeric=(1, 2, 3)))
    for s in checks.stacks:
        findings = [*(f"error: {f}" for f in s.lint_errors), *(f"warning: {f}" for f in s.lint_warnings)]
        if findings:
            out.append(f"<details><summary>{escape(s.name)}: {len(findings)} finding(s)</summary><ul>"
                       + "".join(f"<li>{escape(f)}</li>" for f in findings) + "</ul></details>")
    return "".join(out) + "</section>"


def _cost(report: Report) -> str:
    cost = report.cost
    table = cost.table
    rows = [
        [escape(line.stack), escape(line.item), f"{line.quantity:g}", f"{line.monthly:,.2f}"]
        for line in cost.lines if not line.after_deploy
    ]
    rows += [["(account)", f"free {escape(name)}", "", f"&minus;{credit:,.2f}"] for name, credit in cost.free_credit().items()]
    rows.append(["<b>total idle</b>", "", "", f"<b>{cost.idle_total:,.2f}</b>"])
    out = [
        '<section id="cost"><h2>Idle cost estimate</h2>',
        f"<p>{escape(cost.brief())}. What bills with nothing running; usage (storage, requests, jobs, Studio apps) "
        f"is not priced. Prices: <code>mlops_kit/costs/prices.json</code>, {table.hours_per_month:g} hours a month.</p>",
        _table(["stack", "item", "qty", "$ / month"], rows, numeric=(2, 3)),
    ]
    if cost.after_deploy:
        out.append("<h3>After a project's deploy flow ran (endpoints at their minimum instance count)</h3>")
        out.append(_table(
            ["stack", "item", "qty", "$ / month"],
            [[escape(x.stack), escape(x.item), f"{x.quantity:g}", f"{x.monthly:,.2f}"] for x in cost.after_deploy],
            numeric=(2, 3),
        ))
    return "".join(out) + "</section>"


def _project(project: ProjectView) -> str:
    out = [f"<h3>{escape(project.stack)}</h3><p>{escape(project.description)}</p>"]
    for pipeline in project.pipelines:
        out.append(f"<p>SageMaker pipeline <code>{escape(pipeline.name)}</code>, parameters: "
                   + (", ".join(f"<code>{escape(k)}</code> = {escape(v)}" for k, v in pipeline.parameters) or "none") + "</p>")
        chips = []
        for step in pipeline.steps:
            note = f" · {step.branch}" if step.branch else ""
            after = f" · after {', '.join(step.after)}" if step.after else ""
            chips.append(f'<span class="step"><b>{escape(step.name)}</b> <small>{escape(step.kind + note + after)}</small></span>')
        out.append('<div class="steps">' + '<span class="arrow">→</span>'.join(chips) + "</div>")
    if project.model_package_groups:
        out.append("<p>Model package group: " + ", ".join(f"<code>{escape(g)}</code>" for g in project.model_package_groups) + "</p>")
    if project.flow_states:
        out.append(f"<details><summary>Deploy flow (Step Functions, staging → approval → production): "
                   f"{len(project.flow_states)} states</summary><p>" + " · ".join(escape(s) for s in project.flow_states) + "</p></details>")
    return "".join(out)


def render_html(report: Report) -> str:
    """The whole page."""
    tiers = Counter(stack.tier for stack in report.stacks)
    total = sum(stack.total for stack in report.stacks)
    summary = f"{len(report.stacks)} stacks ({', '.join(f'tier {t}: {n}' for t, n in sorted(tiers.items()))}), {total} resources"
    projects = "".join(_project(p) for p in report.projects) or "<p>No projects yet: <code>mlops-kit new-project NAME</code>.</p>"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>mlops-kit report: {escape(report.prefix)}</title><style>{CSS}</style></head><body>"
        f"<h1>SageMaker MLOps platform <code>{escape(report.prefix)}</code></h1>"
        f'<p class="meta">From the cloud assembly {escape(str(report.assembly))}: {escape(summary)}.</p>'
        f'<section id="diagram"><h2>What this config builds</h2>{render_svg(report.stacks)}</section>'
        f"{_personas(report)}{_checks(report)}{_cost(report)}"
        f'<section id="projects"><h2>Projects and their pipelines</h2>{projects}</section>'
        "</body></html>\n"
    )
