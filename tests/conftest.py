"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support import Receiver, alertmanager_at, receiving


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


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local HTTP server that records every request (see :class:`Receiver`)."""
    async for rec in receiving():
        yield rec


@pytest.fixture
def alertmanager(tmp_path: Path, require_tool: Callable[[str], str]) -> Iterator[str]:
    """The URL of a real Alertmanager (Debian's ``prometheus-alertmanager``)."""
    yield from alertmanager_at(tmp_path, require_tool("prometheus-alertmanager"))
