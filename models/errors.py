"""The exception hierarchy: one root, a few branches.

``ConfigError`` stops a program at start and names the bad setting; ``InvalidRecord``
marks bad *data*, which never stops a stream: it goes to the dead-letter topic with its
``reason``.
"""

from __future__ import annotations

from typing import Any


class GroundswellError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(GroundswellError):
    """A setting or a data file given by the operator is unusable.

    >>> str(ConfigError("GROUNDSWELL_WINDOW_S", "-5", "must be a positive integer"))
    "GROUNDSWELL_WINDOW_S='-5': must be a positive integer"
    """

    def __init__(self, setting: str, value: object, problem: str) -> None:
        self.setting = setting
        self.value = value
        self.problem = problem
        super().__init__(f"{setting}={value!r}: {problem}")


class InvalidRecord(GroundswellError):
    """A record on the wire or in a file cannot be used; ``reason`` is short and stable.

    The reason is used as a metric label, so it is one of a small set of phrases, with
    detail kept in ``detail``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def describe(value: Any, limit: int = 80) -> str:
    """A bad value shown in an error's detail: a scalar by its repr, cut to ``limit``
    characters; a list or an object by its type and size, since the repr of a hostile
    one can be huge or nested too deep to print.

    >>> len(describe("x" * 10_000)), describe(-0.0), describe([[[]]]), describe({"a": 1})
    (80, '-0.0', 'list of 1', 'dict of 1')
    """
    if isinstance(value, list | tuple | dict):
        return f"{type(value).__name__} of {len(value)}"
    return repr(value[:limit] if isinstance(value, str) else value)[:limit]
