"""Wall time of the whole test suite, and its slowest files (`pytest --durations`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "--durations=15"], cwd=ROOT, check=False)
    print(f"suite wall time: {time.perf_counter() - started:.1f} s (exit {result.returncode})")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
