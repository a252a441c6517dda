"""The error a pipeline template raises for a bad argument."""

from __future__ import annotations

from mlops_kit.errors import KitError


class PipelineTemplateError(KitError, ValueError):
    """A template argument is invalid: the message names it, the value and what is allowed.

    It is a ``ValueError`` as well, so callers outside the kit can catch the usual type.
    """

    def __init__(self, argument: str, value: object, allowed: str) -> None:
        self.argument = argument
        self.value = value
        super().__init__(f"{argument}: got {value!r}; {allowed}")
