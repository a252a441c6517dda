"""Turn pydantic's validation errors into one plain ConfigError that names file, field and line."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mlops_kit.config.loader import FieldPath, YamlDocument, dotted
from mlops_kit.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class FieldProblem(ValueError):
    """Raised by cross-field validators to point at the field that must change."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path


def _model_at(model: type[BaseModel], path: FieldPath) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``path`` (for listing its allowed keys)."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):
            continue  # a list item: the model stays the list's item model
        field = current.model_fields.get(part)
        current = _unwrap(field.annotation) if field is not None else None
    return current


def _unwrap(annotation: Any) -> Any:
    """The model inside ``X | None``, ``list[X]``, ``dict[str, X]`` or ``Annotated[X, ...]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        for arg in reversed(typing.get_args(annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
            inner = _unwrap(arg)
            if inner is not None:
                return inner
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _aliases(model: type[BaseModel]) -> list[str]:
    # Excluded fields are filled by the loader (kit.yaml's projects), never written in the file.
    return [field.alias or name for name, field in model.model_fields.items() if not field.exclude]


def _describe(error: dict[str, Any], model: type[BaseModel]) -> tuple[FieldPath, str]:
    loc: FieldPath = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = f"; allowed keys: {', '.join(_aliases(owner))}" if owner else ""
        return loc, f"unknown key '{loc[-1]}'{allowed}"
    if kind == "missing":
        return loc, "this key is required"
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldProblem):
        return (*loc, *cause.path), str(cause)
    message = re.sub(r" or instance of \w+", "", str(error["msg"]))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if "input" in error and kind not in ("model_type", "dict_type") and not isinstance(error["input"], dict | list):
        return loc, f"got {error['input']!r}: {message}"
    return loc, message


def validate_document(model: type[M], document: YamlDocument, *, context: dict[str, Any] | None = None) -> M:
    """Validate ``document`` against ``model``; raise one ConfigError for the first problem."""
    try:
        return model.model_validate(document.data, context=context)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        loc, message = _describe(dict(problems[0]), model)
        # Model-level validators report at the model's own location; skip pydantic's
        # internal union branch names so the path stays the user's path.
        path = tuple(part for part in loc if not (isinstance(part, str) and (part.startswith("function-") or part == "[key]")))
        if len(problems) > 1:
            message += f" ({len(problems) - 1} more problem(s) in this file after this one)"
        raise ConfigError(document.file, dotted(path), message, document.line_of(path)) from None
