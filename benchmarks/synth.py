"""Synth wall time and peak memory of the platform, for the shipped config and for N projects.

Each measurement runs in a fresh Python process (imports included, as `cdk synth` runs it):
peak memory is the Python process's and the jsii Node child's maximum resident set size.

    .venv/bin/python benchmarks/synth.py                   # the shipped kit.yaml + projects/
    .venv/bin/python benchmarks/synth.py --projects 1 10 30
    .venv/bin/python benchmarks/synth.py --new-project      # new-project -> `cdk synth Project-x`
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

CHILD = r"""
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
import aws_cdk as cdk
from mlops_kit.app import build_app
from mlops_kit.config import load_config, projects_dir_of
imported = time.perf_counter()
config_path = Path(sys.argv[1])
context = json.loads(Path(sys.argv[2]).read_text())["context"]
app = cdk.App(context=context, outdir=sys.argv[3])
build_app(load_config(config_path), app=app, projects_dir=projects_dir_of(config_path))
assembly = app.synth()
done = time.perf_counter()


def node_peak_kb():
    # jsii's Node process is still alive here, so read its high-water mark from /proc.
    import os
    peak = 0
    for task in os.listdir("/proc/self/task"):
        try:
            children = open(f"/proc/self/task/{task}/children").read().split()
        except OSError:
            continue
        for pid in children:
            try:
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
    return peak
print(json.dumps({
    "import_s": round(imported - started, 2),
    "build_and_synth_s": round(done - imported, 2),
    "stacks": len(assembly.stacks),
    "resources": sum(len(s.template.get("Resources", {})) for s in assembly.stacks),
    "python_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "node_peak_mb": round(node_peak_kb() / 1024, 1),
}))
"""


def measure(config_path: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(config_path), str(ROOT / "cdk.json"), outdir],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
        wall = time.perf_counter() - started
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    figures["wall_s"] = round(wall, 2)
    return figures


def platform_with_projects(folder: Path, count: int) -> Path:
    from mlops_kit.bootstrap import create_project
    from mlops_kit.config import load_config

    shutil.copy(ROOT / "kit.yaml", folder / "kit.yaml")
    kit = load_config(folder / "kit.yaml", projects_dir=folder / "none")
    for index in range(count):
        template = "batch-inference" if index % 5 == 4 else "tabular-training"
        create_project(projects_dir=folder / "projects", kit=kit, name=f"project-{index:02d}", template=template, owners=[])
    return folder / "kit.yaml"


def new_project_to_synth() -> dict[str, object]:
    """The project team's path: `mlops-kit new-project` then `cdk synth Project-<name>`."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name in ("kit.yaml", "cdk.json", "app.py"):
            shutil.copy(ROOT / name, work / name)
        for name in (".venv", "node_modules"):
            (work / name).symlink_to(ROOT / name)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlops_kit", "new-project", "churn", "-t", "tabular-training"], cwd=work, check=True, capture_output=True)
        created = time.perf_counter()
        subprocess.run([str(work / "node_modules" / ".bin" / "cdk"), "synth", "Project-churn", "--quiet"], cwd=work, check=True, capture_output=True)
        done = time.perf_counter()
    return {"new_project_s": round(created - started, 2), "cdk_synth_s": round(done - created, 2), "total_s": round(done - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, nargs="*", help="synthesize the platform with N generated projects")
    parser.add_argument("--new-project", action="store_true", help="time new-project followed by cdk synth")
    args = parser.parse_args()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    report: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if args.new_project:
        report["new_project_to_synth"] = new_project_to_synth()
    elif args.projects:
        runs = {}
        for count in args.projects:
            with tempfile.TemporaryDirectory() as folder:
                runs[str(count)] = measure(platform_with_projects(Path(folder), count))
                print(f"{count:>3} projects: {runs[str(count)]}", flush=True)
        report["projects"] = runs
    else:
        report["default"] = measure(ROOT / "kit.yaml")
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"synth-{int(time.time())}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
