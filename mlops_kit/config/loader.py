"""Read YAML with the line of every field, so errors can point into the file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mlops_kit.errors import ConfigError

FieldPath = tuple[str | int, ...]


def dotted(path: FieldPath) -> str:
    """``("network", "cidr")`` -> ``network.cidr``; list items as ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _walk(node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], file: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise ConfigError(
                    file,
                    dotted((*path, key)),
                    "this key appears twice in the same mapping; keep one",
                    key_node.start_mark.line + 1,
                )
            seen.add(key)
            _walk(value_node, (*path, key), lines, file)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, file)


class YamlDocument:
    """A parsed YAML mapping plus the line numbers of its fields."""

    def __init__(self, file: str, data: dict[str, Any], lines: dict[FieldPath, int]) -> None:
        self.file = file
        self.data = data
        self.lines = lines

    def line_of(self, path: FieldPath) -> int | None:
        """The line of the deepest known ancestor of ``path``."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def read_yaml(path: Path, *, display: str | None = None) -> YamlDocument:
    """Parse one YAML file that must hold a mapping, or raise a ConfigError naming it."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, None, "file not found; create it or pass --config with an existing file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(name, None, f"cannot read the file ({error.__class__.__name__}: {error})") from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or "invalid YAML"
        raise ConfigError(name, None, f"YAML syntax error: {problem}", line) from None
    except yaml.YAMLError as error:
        raise ConfigError(name, None, f"YAML syntax error: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(name, None, f"the file must hold a mapping of keys, found {type(data).__name__}", 1)
    lines: dict[FieldPath, int] = {}
    if node is not None:
        _walk(node, (), lines, name)
    return YamlDocument(name, dict(data), lines)
