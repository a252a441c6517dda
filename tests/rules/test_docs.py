"""docs/constructs.md shows how to apply the pack to one's own app: that block runs, and refuses a broken model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "constructs.md"


def _block() -> str:
    match = re.search(r"<!-- example:nag-pack -->\s*```python\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/constructs.md lost its example:nag-pack block"
    return match.group(1)


def test_docs_example_synthesizes_a_compliant_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    exec(compile(_block(), str(DOC), "exec"), {"__name__": "docs_nag_pack"})


def test_fails_if_the_docs_model_loses_its_network_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    broken = _block().replace("enable_network_isolation=True", "enable_network_isolation=False")
    with pytest.raises(RuntimeError, match=r"KitSageMaker-ModelVpcIsolation\[EnableNetworkIsolation\]"):
        exec(compile(broken, str(DOC), "exec"), {"__name__": "docs_nag_pack"})
