"""Carry AWS CDK token strings through the SageMaker SDK untouched.

CDK callers pass values such as ``${Token[TOKEN.123]}`` that only become real at deploy
time. The SDK parses what it is given (``urlparse`` rejects ``[`` in a host, role
resolution wants ``arn:...:iam::``), so each token is swapped for a plain placeholder
before the SDK sees it and swapped back in the finished JSON, where CDK later turns it
into ``Fn::Join``.
"""

from __future__ import annotations

import json
import re

# The string forms CDK encodes: ``${Token[...]}`` for strings, ``#{Token[...]}`` in lists.
TOKEN_PATTERN = re.compile(r"[$#]\{Token\[[^\]]+\]\}")
_PREFIX = "mlopskit-token-"
_ROLE_TEMPLATE = "arn:aws:iam::000000000000:role/{}"


def is_token(value: str) -> bool:
    """True when ``value`` contains at least one unresolved CDK token."""
    return TOKEN_PATTERN.search(value) is not None


class TokenVault:
    """Maps placeholders to the original text; one vault per definition build."""

    def __init__(self) -> None:
        self._originals: dict[str, str] = {}
        self._by_token: dict[str, str] = {}

    def _new_placeholder(self, original: str, template: str = "{}") -> str:
        placeholder = template.format(f"{_PREFIX}{len(self._originals):04d}x")
        self._originals[placeholder] = original
        return placeholder

    def protect(self, value: str) -> str:
        """Replace each token inside ``value`` by a placeholder made of ``[a-z0-9-]``."""

        def swap(match: re.Match[str]) -> str:
            token = match.group(0)
            if token not in self._by_token:
                self._by_token[token] = self._new_placeholder(token)
            return self._by_token[token]

        return TOKEN_PATTERN.sub(swap, value)

    def protect_role(self, value: str) -> str:
        """A role made of tokens becomes a whole placeholder IAM role ARN."""
        if not is_token(value):
            return value
        return self._new_placeholder(value, _ROLE_TEMPLATE)

    def restore(self, definition: str) -> str:
        """Put the original text back into a JSON document built from placeholders."""
        # Longest first, so a role ARN placeholder is replaced before the bare token
        # placeholders it might contain.
        for placeholder in sorted(self._originals, key=len, reverse=True):
            original = json.dumps(self._originals[placeholder])[1:-1]
            definition = definition.replace(placeholder, original)
        if _PREFIX in definition:
            raise RuntimeError("a CDK token placeholder was left in the pipeline definition")
        return definition
