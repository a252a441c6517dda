"""Synth at scale against a floor, in one run: wall, CPU and whole-tree peak memory per command.

For each project count it builds a checkout in a temporary folder (the shipped kit.yaml, N
projects written by the kit's own ``new-project`` code, every fifth one batch-inference), then
times, each as a cold process tree:

- ``cdk synth``: the CDK CLI running the kit's app (what ``npx cdk synth`` does);
- ``floor``: the same CDK CLI running a floor app of plain L1 resources with the same stacks
  and the same resource count per stack (read from the kit's assembly just synthesized);
- ``kit cold``: ``mlops-kit synth --no-cache`` (cdk-nag + cfn-lint over every template);
- ``kit 1 changed``: ``mlops-kit synth`` after one project's file changed (lint cache warm);
- ``kit --project``: ``mlops-kit synth --project project-00``.

Memory is the peak of the summed resident set of the whole process tree (CDK CLI, Python app,
jsii's Node kernel, cfn-lint workers), sampled with psutil every 50 ms; CPU is user + system
time of every descendant (``RUSAGE_CHILDREN``). Targets are ratios against the floor.

    .venv/bin/python benchmarks/scale.py                      # 1, 10 and 50 projects (make bench)
    .venv/bin/python benchmarks/scale.py --projects 1 10
    .venv/bin/python benchmarks/scale.py --projects 10 --code /work/main   # another checkout's code ("before")
    .venv/bin/python benchmarks/scale.py --projects 1 --demo  # plus the demo's phases from a cold process
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
# Ratios against the floor (issue 20), and the memory ceiling of the whole tree.
TARGETS = {"cdk synth": 2.0, "kit 1 changed": 2.5, "kit cold": 4.0}
MEMORY_LIMIT_MB = 2048

FLOOR_APP = r'''
import json, sys
import aws_cdk as cdk
from aws_cdk import aws_sns as sns
counts = json.loads(open(sys.argv[1]).read())
app = cdk.App()
for name, count in counts.items():
    stack = cdk.Stack(app, name)
    for index in range(count):
        sns.CfnTopic(stack, f"R{index}")
app.synth()
'''


class Run:
    """One command as a cold process tree: wall seconds, CPU seconds, peak tree RSS (MB)."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.peak_mb = 0.0
        self._cpu_seen: dict[int, float] = {}
        stop = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(process.pid, stop), daemon=True)
        sampler.start()
        self.output, _ = process.communicate()
        stop.set()
        sampler.join()
        self.wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # A descendant nobody waits for (jsii's Node kernel is killed at exit) is missing from
        # RUSAGE_CHILDREN: the sampled per-process CPU times count it.
        self.cpu = max(reaped, sum(self._cpu_seen.values()))
        self.returncode = process.returncode

    def _sample(self, pid: int, stop: threading.Event) -> None:
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            total = 0
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in tree:
                with contextlib.suppress(psutil.Error):  # a process that ended between listing and reading
                    total += process.memory_info().rss
                    times = process.cpu_times()
                    self._cpu_seen[process.pid] = times.user + times.system
            self.peak_mb = max(self.peak_mb, total / 2**20)
            stop.wait(0.05)

    def figures(self) -> dict[str, float]:
        return {"wall_s": round(self.wall, 1), "cpu_s": round(self.cpu, 1), "peak_mb": round(self.peak_mb)}


def checkout(folder: Path, count: int) -> Path:
    """A kit checkout with ``count`` projects, sharing this one's .venv and node_modules."""
    from mlops_kit.bootstrap import create_project
    from mlops_kit.config import load_config

    for name in ("kit.yaml", "cdk.json", "app.py"):
        shutil.copy(ROOT / name, folder / name)
    for name in (".venv", "node_modules"):
        (folder / name).symlink_to(ROOT / name)
    kit = load_config(folder / "kit.yaml", projects_dir=folder / "none")
    for index in range(count):
        template = "batch-inference" if index % 5 == 4 else "tabular-training"
        create_project(projects_dir=folder / "projects", kit=kit, name=f"project-{index:02d}", template=template, owners=[])
    return folder


def resource_counts(assembly: Path) -> dict[str, int]:
    from mlops_kit.checks import stack_templates

    return {
        name: len(json.loads(template.read_text()).get("Resources", {}))
        for name, template in stack_templates(assembly).items()
    }


def measure(count: int, env: dict[str, str], *, scoped: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        work = checkout(Path(folder), count)
        cdk = [str(work / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--no-lookups"]
        kit = [str(work / ".venv" / "bin" / "python"), "-m", "mlops_kit", "synth"]
        runs: dict[str, Run] = {}

        def run(label: str, command: list[str]) -> None:
            runs[label] = Run(command, cwd=work, env=env)
            if runs[label].returncode != 0:
                raise SystemExit(f"{label} failed (exit {runs[label].returncode}):\n{runs[label].output[-3000:]}")
            print(f"  {count:>3} projects, {label:<14} {runs[label].figures()}", flush=True)

        run("cdk synth", [*cdk, "--output", "cdk.out.cli"])
        counts = resource_counts(work / "cdk.out.cli")
        (work / "counts.json").write_text(json.dumps(counts))
        (work / "floor_app.py").write_text(FLOOR_APP)
        floor_app = f"{work / '.venv' / 'bin' / 'python'} floor_app.py counts.json"
        run("floor", [*cdk, "--app", floor_app, "--output", "cdk.out.floor"])
        run("kit cold", [*kit, "--no-cache"])
        project_file = work / "projects" / "project-00.yaml"
        project_file.write_text(project_file.read_text().replace("threshold: 0.7", "threshold: 0.71", 1))
        run("kit 1 changed", kit)
        if scoped:
            run("kit --project", [*kit, "--project", "project-00"])
    floor = runs["floor"]
    # On a shared machine wall time also measures the neighbours; the CPU ratio does not.
    return {
        "stacks": len(counts),
        "resources": sum(counts.values()),
        "runs": {
            label: {**r.figures(), "x_floor": round(r.wall / floor.wall, 2), "cpu_x_floor": round(r.cpu / max(floor.cpu, 0.1), 2)}
            for label, r in runs.items()
        },
    }


def demo_phases(env: dict[str, str]) -> dict[str, Any]:
    """benchmarks/local_deploy.py in a cold process: synth, deploy to the embedded AWS, end-to-end flow."""
    run = Run([sys.executable, str(ROOT / "benchmarks" / "local_deploy.py")], cwd=ROOT, env=env)
    start = run.output.find("{")
    phases: dict[str, Any] = json.loads(run.output[start:]) if start >= 0 else {"output": run.output[-2000:]}
    return {"process": run.figures(), **phases}


def table(report: dict[str, Any]) -> str:
    labels = ["cdk synth", "floor", "kit cold", "kit 1 changed", "kit --project"]
    lines = ["| projects | stacks / resources | " + " | ".join(labels) + " |", "|---" * (len(labels) + 2) + "|"]
    for count, result in report["projects"].items():
        cells = []
        for label in labels:
            figures = result["runs"].get(label)
            cells.append(
                "—" if figures is None else f"{figures['wall_s']} s ({figures['x_floor']}x), cpu {figures['cpu_s']} s ({figures['cpu_x_floor']}x), "
                f"{figures['peak_mb']} MB"
            )
        lines.append(f"| {count} | {result['stacks']} / {result['resources']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(report: dict[str, Any]) -> list[str]:
    found = []
    runs = report["projects"]
    for count, result in runs.items():
        for label, limit in TARGETS.items():
            ratio = result["runs"][label]["x_floor"]
            found.append(f"{count} projects: {label} {ratio}x floor (target ≤ {limit}x): {'ok' if ratio <= limit else 'MISSED'}")
        peak = max(figures["peak_mb"] for figures in result["runs"].values())
        found.append(f"{count} projects: peak tree memory {peak} MB (limit {MEMORY_LIMIT_MB}): {'ok' if peak <= MEMORY_LIMIT_MB else 'MISSED'}")
    scoped = {count: result["runs"]["kit --project"]["wall_s"] for count, result in runs.items() if "kit --project" in result["runs"]}
    if len(scoped) > 1:
        smallest, largest = scoped[min(scoped, key=int)], scoped[max(scoped, key=int)]
        growth = largest / smallest
        found.append(f"kit --project: {largest} s at {max(scoped, key=int)} vs {smallest} s at {min(scoped, key=int)} projects "
                     f"({growth:.2f}x, target ≤ 1.2x): {'ok' if growth <= 1.2 else 'MISSED'}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose mlops_kit is measured (default: this one)")
    parser.add_argument("--demo", action="store_true", help="also time the demo's phases from a cold process")
    args = parser.parse_args()
    code = args.code.resolve()
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # An older checkout (the "before" of a comparison) has no project-scoped synth to time.
    scoped = 'try_get_context("project")' in (code / "mlops_kit" / "app.py").read_text()
    report: dict[str, Any] = {"code": str(code), "cpus": os.cpu_count(), "projects": {}}
    for count in args.projects:
        report["projects"][str(count)] = measure(count, env, scoped=scoped)
    if args.demo:
        report["demo"] = demo_phases(env)
    text = table(report)
    print(text)
    found = verdicts(report)
    print("\n".join(found))
    if args.demo:
        print(json.dumps(report["demo"], indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scale-{int(time.time())}.json").write_text(json.dumps({**report, "table": text, "verdicts": found}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
