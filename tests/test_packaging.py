"""The repository ships like a package: its license, its type marker, and Make targets that exist."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def test_license_file_is_the_license_the_package_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_package_is_typed_and_ships_its_marker() -> None:
    # PEP 561: without py.typed a consumer's mypy treats the kit's constructs as untyped.
    assert (ROOT / "mlops_kit" / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    assert "py.typed" in package_data


def test_every_phony_make_target_has_a_rule_and_help() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, flags=re.MULTILINE)
    assert phony is not None
    targets = phony.group(1).split()
    rules = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    documented = set(re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE))
    assert [target for target in targets if target not in rules] == []
    assert [target for target in targets if target not in documented] == []
