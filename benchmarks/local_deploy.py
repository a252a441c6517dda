"""Benchmark: the shipped platform deployed to the embedded AWS, then the end-to-end flow.

Measures server start, `cdk bootstrap` + deploy of the three stacks, the end-to-end flow and
the whole run, against the targets below (exit 1 when one is missed). The synth is not
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
TARGETS = {"deploy": 60.0, "demo": 30.0, "total": 120.0}


def main() -> int:
    import aws_cdk as cdk

    from mlops_kit.app import build_app
    from mlops_kit.config import load_config
    from mlops_kit.local import EmbeddedAws, deploy_assembly
    from mlops_kit.local.demo import run_demo
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
            ok = result.ok and run_demo(aws, outdir, progress=lambda _line: None)
            seconds["demo"] = time.monotonic() - mark
        seconds["total"] = time.monotonic() - started

    missed = {name: round(seconds[name], 1) for name, limit in TARGETS.items() if seconds[name] > limit}
    report = {"ok": ok, "seconds": {k: round(v, 2) for k, v in seconds.items()}, "targets": TARGETS, "missed": missed}
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"local-deploy-{int(time.time())}.json").write_text(json.dumps(report, indent=2))
    return 0 if ok and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
