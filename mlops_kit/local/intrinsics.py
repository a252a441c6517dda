"""CloudFormation intrinsic functions: find references, substitute values, evaluate.

Three jobs, all on plain JSON templates:

* ``references(value)`` lists the logical ids a value points at (``Ref``, ``Fn::GetAtt``,
  ``${X}``/``${X.Attr}`` inside ``Fn::Sub``), ignoring parameters and pseudo parameters is the
  caller's job.
* ``substitute(value, lookup)`` replaces ``Ref``/``Fn::GetAtt`` (and their ``Fn::Sub`` forms) to
  chosen logical ids with literal values and leaves everything else for CloudFormation.
* ``Evaluator`` resolves a value completely in Python: ``Ref``, ``Fn::GetAtt``, ``Fn::Join``,
  ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::ImportValue``, ``Fn::FindInMap``, ``Fn::If``,
  ``Fn::Equals/And/Or/Not``, ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::ToJsonString``, ``Fn::Length``
  and ``AWS::NoValue``. Where a resource's value comes from is the caller's choice (the deploy
  engine asks moto for them through stack outputs, see ``deploy.py``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::NotificationARNs",
    }
)

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class NoValue:
    """``Ref: AWS::NoValue``: the property is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = NoValue()


class UnresolvedError(ValueError):
    """A value could not be resolved (unknown resource, attribute, parameter or export)."""


def _sub_parts(arg: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(arg, list):
        return str(arg[0]), dict(arg[1]) if len(arg) > 1 else {}
    return str(arg), {}


def _getatt_parts(arg: Any) -> tuple[str, str]:
    if isinstance(arg, str):
        logical, _, attr = arg.partition(".")
        return logical, attr
    return str(arg[0]), str(arg[1]) if not isinstance(arg[1], dict) else json.dumps(arg[1])


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) that ``value`` refers to, without pseudo parameters."""
    return {name for name, _attribute in getatt_pairs(value)}


def getatt_pairs(value: Any) -> set[tuple[str, str | None]]:
    """``(logical id, attribute or None for Ref)`` for every reference in ``value``."""
    found: set[tuple[str, str | None]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str):
                    found.add((arg, None))
                    return
                if key == "Fn::GetAtt":
                    found.add(_getatt_parts(arg))
                    return
                if key == "Fn::Sub":
                    text, variables = _sub_parts(arg)
                    for name in _SUB_VARIABLE.findall(text):
                        base, _, attr = name.partition(".")
                        if base not in variables:
                            found.add((base, attr or None))
                    walk(list(variables.values()))
                    return
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return {(name, attr) for name, attr in found if name not in PSEUDO_PARAMETERS}


Lookup = Callable[[str, str | None], Any]
"""``lookup(logical_id, attribute_or_None)`` -> literal, or raise ``KeyError`` to leave it alone."""


def substitute(value: Any, replace_if: Callable[[str, str | None], bool], lookup: Lookup) -> Any:
    """Replace the references ``replace_if(logical_id, attr)`` picks with literals from ``lookup``."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str) and replace_if(arg, None):
                return lookup(arg, None)
            if key == "Fn::GetAtt":
                logical, attr = _getatt_parts(arg)
                if replace_if(logical, attr):
                    return lookup(logical, attr)
                return value
            if key == "Fn::Sub":
                text, variables = _sub_parts(arg)

                def replace(match: re.Match[str]) -> str:
                    base, _, attr = match.group(1).partition(".")
                    if base not in variables and replace_if(base, attr or None):
                        return str(lookup(base, attr or None))
                    return match.group(0)

                new_text = _SUB_VARIABLE.sub(replace, text)
                new_vars = {k: substitute(v, replace_if, lookup) for k, v in variables.items()}
                if isinstance(arg, list):
                    return {"Fn::Sub": [new_text, new_vars]}
                return {"Fn::Sub": new_text}
        return {k: substitute(v, replace_if, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, replace_if, lookup) for v in value]
    return value


class Evaluator:
    """Resolve intrinsic functions in Python.

    Args:
        resource_value: ``(logical id, attribute or None) -> value`` for resources.
        parameters: resolved parameter values (SSM parameter types already looked up).
        pseudo: ``AWS::Region`` and friends.
        conditions: the template's ``Conditions`` section (evaluated lazily).
        mappings: the template's ``Mappings`` section.
        import_value: export name -> value.
    """

    def __init__(
        self,
        resource_value: Lookup,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
        import_value: Callable[[str], Any] | None = None,
    ) -> None:
        self._resource_value = resource_value
        self._parameters = parameters
        self._pseudo = pseudo
        self._conditions = conditions or {}
        self._condition_cache: dict[str, bool] = {}
        self._mappings = mappings or {}
        self._import_value = import_value

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self._conditions:
                raise UnresolvedError(f"unknown condition {name!r}")
            self._condition_cache[name] = bool(self.resolve(self._conditions[name]))
        return self._condition_cache[name]

    def ref(self, name: str, attr: str | None = None) -> Any:
        if attr is None:
            if name in self._pseudo:
                return self._pseudo[name]
            if name == "AWS::NoValue":
                return NO_VALUE
            if name in self._parameters:
                return self._parameters[name]
        try:
            return self._resource_value(name, attr)
        except KeyError as error:
            what = f"{name}.{attr}" if attr else name
            raise UnresolvedError(f"cannot resolve {what}") from error

    def resolve(self, value: Any) -> Any:
        """The fully resolved value; ``AWS::NoValue`` members are dropped from objects and lists."""
        result = self._resolve(value)
        return None if result is NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self._resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._functions.get(key)
            if handler is not None:
                return handler(self, arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
        out = {}
        for key, child in value.items():
            resolved = self._resolve(child)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    # -- functions --------------------------------------------------------------------------
    def _fn_ref(self, arg: Any) -> Any:
        return self.ref(str(arg))

    def _fn_getatt(self, arg: Any) -> Any:
        logical, attr = _getatt_parts(arg)
        return self.ref(logical, attr)

    def _fn_join(self, arg: Any) -> Any:
        separator, items = arg
        items = self._resolve(items)
        return str(separator).join(_as_text(item) for item in items)

    def _fn_sub(self, arg: Any) -> Any:
        text, variables = _sub_parts(arg)
        values = {k: self._resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return _as_text(values[name])
            base, _, attr = name.partition(".")
            return _as_text(self.ref(base, attr or None))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _fn_select(self, arg: Any) -> Any:
        index, items = arg
        items = self._resolve(items)
        return items[int(self._resolve(index))]

    def _fn_split(self, arg: Any) -> Any:
        separator, text = arg
        return str(self._resolve(text)).split(str(separator))

    def _fn_import(self, arg: Any) -> Any:
        name = self._resolve(arg)
        if self._import_value is None:
            raise UnresolvedError(f"no exports available to import {name!r}")
        return self._import_value(str(name))

    def _fn_find_in_map(self, arg: Any) -> Any:
        name, first, second = (self._resolve(a) for a in arg[:3])
        try:
            return self._mappings[name][first][second]
        except KeyError as error:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self._resolve(arg[3]["DefaultValue"])
            raise UnresolvedError(f"Fn::FindInMap {name}/{first}/{second} not found") from error

    def _fn_if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self._resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, arg: Any) -> Any:
        left, right = (self._resolve(a) for a in arg)
        return _as_text(left) == _as_text(right)

    def _fn_and(self, arg: Any) -> Any:
        return all(self._resolve(a) for a in arg)

    def _fn_or(self, arg: Any) -> Any:
        return any(self._resolve(a) for a in arg)

    def _fn_not(self, arg: Any) -> Any:
        return not self._resolve(arg[0])

    def _fn_base64(self, arg: Any) -> Any:
        return base64.b64encode(_as_text(self._resolve(arg)).encode()).decode()

    def _fn_getazs(self, arg: Any) -> Any:
        region = self._resolve(arg) or self._pseudo.get("AWS::Region", "us-east-1")
        return [f"{region}{suffix}" for suffix in "abc"]

    def _fn_to_json(self, arg: Any) -> Any:
        return json.dumps(self._resolve(arg), separators=(",", ":"))

    def _fn_length(self, arg: Any) -> Any:
        return len(self._resolve(arg))

    _functions: ClassVar[dict[str, Callable[[Evaluator, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_getatt,
        "Fn::Join": _fn_join,
        "Fn::Sub": _fn_sub,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::ImportValue": _fn_import,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Fn::Not": _fn_not,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_getazs,
        "Fn::ToJsonString": _fn_to_json,
        "Fn::Length": _fn_length,
    }


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
