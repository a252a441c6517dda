"""Benchmark: the shipped platform deployed to the embedded AWS, then the end-to-end flow.

Measures server start, `cdk bootstrap` + deploy of the three stacks, the end-to-end flow (and
within it the pipeline run and the deploy flow's two versions) and the whole run, against the targets below (exit 1 when one is missed). The synth is not
timed here (see synth.py). Run: `.venv/bin/python benchmarks/local_deploy.py`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
# Seconds on a 2-core machine: what `make demo` may spend after the synth.
TARGETS = {"deploy": 60.0, "demo": 60.0, "total": 120.0}


def main() -> int:
    import aws_cdk as cdk

    from mlops_kit.app import build_app
    from mlops_kit.config import load_config
    from mlops_kit.local import EmbeddedAws, deploy_assembly
    from mlops_kit.local.demo import run_flow
    from mlops_kit.local.deploy import find_cdk_cli

    with tempfile.TemporaryDirectory() as folder:
        outdir = Path(folder) / "cdk.out"
        flags = json.loads((ROOT / "cdk.json").read_text())["context"]
        app = cdk.App(context=flags, outdir=str(outdir))
        build_app(load_config(ROOT / "kit.yaml"), app=app, projects_dir=ROOT / "projects")
        app.synth()

        seconds: dict[str, float] = {}
        started = time.monotonic()
        with EmbeddedAws(log_file=Path(folder) / "moto.log") as aws:
            seconds["server start"] = time.monotonic() - started
            result = deploy_assembly(outdir, aws, cdk_command=find_cdk_cli(ROOT) or False, progress=lambda _line: None)
            seconds["deploy"] = result.seconds
            mark = time.monotonic()
            report = run_flow(aws, outdir) if result.ok else None
            ok = result.ok and report is not None and report.ok
            seconds["demo"] = time.monotonic() - mark
            if report is not None:
                steps = report.steps
                seconds["demo: pipeline run"] = sum(s.seconds for s in steps if s.title.startswith("run the pipeline"))
                seconds["demo: deploy flow (v1, v2, duplicate)"] = sum(
                    s.seconds for s in steps if s.title.startswith(("approve", "v1", "v2", "register v2", "a duplicate"))
                )
        seconds["total"] = time.monotonic() - started

    missed = {name: round(seconds[name], 1) for name, limit in TARGETS.items() if seconds[name] > limit}
    report = {"ok": ok, "seconds": {k: round(v, 2) for k, v in seconds.items()}, "targets": TARGETS, "missed": missed}
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"local-deploy-{int(time.time())}.json").write_text(json.dumps(report, indent=2))
    return 0 if ok and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
