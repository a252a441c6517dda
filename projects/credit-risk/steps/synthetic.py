"""A small, deterministic churn-like tabular dataset for tests and the demo.

The label depends on the features through a fixed logistic formula plus noise, so a
reasonable model reaches well above chance (about 0.8 accuracy) while a broken one does
not. A few rows carry the defects the preprocessing step must clean: missing values,
duplicates and rows without a label.

Run: ``python synthetic.py --rows 400 --seed 7 --output data.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_ROWS = 400
DEFAULT_SEED = 7


def generate(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, target_column: str = "label"
) -> pd.DataFrame:
    """Return ``rows`` rows (plus a few defective ones) built from ``seed`` alone."""
    if rows < 50:
        raise ValueError(f"rows: got {rows}; at least 50 are needed for a train/validation/test split")
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, size=rows)
    tenure = rng.integers(1, 72, size=rows)
    monthly = np.round(rng.normal(70.0, 25.0, size=rows).clip(10.0, 200.0), 2)
    calls = rng.poisson(1.5, size=rows)
    plan = rng.choice(["basic", "standard", "premium"], size=rows, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west"], size=rows)
    plan_effect = np.select([plan == "basic", plan == "premium"], [0.8, -0.8], default=0.0)
    logit = (
        -0.5
        + 0.9 * calls
        - 0.06 * tenure
        + 0.02 * (monthly - 70.0)
        + plan_effect
        - 0.01 * (age - 45)
        + rng.normal(0.0, 0.5, size=rows)
    )
    label = (logit > 0).astype(int)
    frame = pd.DataFrame(
        {
            "customer_age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "support_calls": calls,
            "plan": plan,
            "region": region,
            target_column: label,
        }
    )
    # Defects for the preprocessing step: missing values, a duplicate, an unlabelled row.
    frame.loc[frame.index[::23], "monthly_charges"] = np.nan
    frame.loc[frame.index[5::31], "plan"] = None
    defects = frame.iloc[[0, 1]].copy()
    defects.loc[defects.index[1], target_column] = np.nan
    return pd.concat([frame, defects], ignore_index=True)


def write(
    path: Path, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, target_column: str = "label"
) -> Path:
    """Write the dataset as CSV with a header and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(rows, seed, target_column).to_csv(path, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--target-column", default="label")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    print(write(args.output, args.rows, args.seed, args.target_column))
    return 0


if __name__ == "__main__":
    sys.exit(main())
