"""The exception hierarchy: one root, a few branches.

``ConfigError`` stops a program at start and names the bad setting; ``InvalidRecord``
marks bad *data*, which never stops a stream: it goes to the dead-letter topic with its
``reason``.
"""

from __future__ import annotations


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
