"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest


@pytest.fixture
def require_tool() -> Callable[[str], str]:
    """``require_tool(name)``: the path of a system program the test needs (Prometheus,
    promtool, Alertmanager, Chromium). Missing, the test is skipped with the reason — or
    fails when ``GROUNDSWELL_REQUIRE_TOOLS=1``, as ``make test`` sets after installing them."""

    def find(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            message = f"{name} is not installed (make system-deps installs it)"
            if os.environ.get("GROUNDSWELL_REQUIRE_TOOLS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        return path

    return find
