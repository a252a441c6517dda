"""The one error type users see: a plain message, exit code 2, no traceback."""

from __future__ import annotations


class KitError(Exception):
    """A mistake in the user's input (a config file or a command line).

    The CLI and the CDK app print ``str(error)`` alone and exit with code 2, so the
    message must say where the mistake is, what was found and what is allowed.
    """

    exit_code = 2


class ConfigError(KitError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, file: str, field: str | None, message: str, line: int | None = None) -> None:
        self.file = file
        self.field = field
        self.line = line
        self.detail = message
        where = file if line is None else f"{file}:{line}"
        text = f"{where}: {field}: {message}" if field else f"{where}: {message}"
        super().__init__(text)


class PropsError(KitError, ValueError):
    """A construct was given props it cannot build: says which prop, what came, what is allowed."""

    def __init__(self, construct: str, prop: str, message: str) -> None:
        super().__init__(f"{construct}: {prop}: {message}")
