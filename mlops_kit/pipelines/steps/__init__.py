"""Step code the pipeline templates ship: each module is a standalone script.

The scripts run inside the SageMaker scikit-learn containers (their default paths are
the container's ``/opt/ml/...`` locations) and locally with explicit path arguments.
They import nothing from the kit, because only the script file itself is in the job.
"""

from __future__ import annotations

from pathlib import Path

STEPS_DIR = Path(__file__).resolve().parent
# The scripts a tabular-training pipeline needs, keyed as in ``code_uris``.
SCRIPTS = {
    "preprocess": STEPS_DIR / "preprocess.py",
    "train": STEPS_DIR / "train.py",
    "evaluate": STEPS_DIR / "evaluate.py",
}
