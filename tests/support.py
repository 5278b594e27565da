"""Real local servers the tests talk to: an HTTP receiver and an Alertmanager."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from streams.workers import free_port


@dataclass
class Receiver:
    """A local HTTP server: answers from ``plan`` (status, headers, delay) in order, then
    200; records path, headers and body of every request."""

    url: str = ""
    plan: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    seen: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


async def receiving() -> AsyncIterator[Receiver]:
    """A running :class:`Receiver` (an async generator for a fixture)."""
    rec = Receiver()

    async def handle(request: web.Request) -> web.Response:
        rec.seen.append((request.path, dict(request.headers), await request.read()))
        status, headers, delay = rec.plan.pop(0) if rec.plan else (200, {}, 0.0)
        await asyncio.sleep(delay)
        return web.Response(status=status, headers=headers, text="no" if status >= 300 else "")

    app = web.Application()
    app.router.add_post("/{path:.*}", handle)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/hook"
    yield rec
    await runner.cleanup()


def alertmanager_at(tmp_path: Path, binary: str) -> Iterator[str]:
    """The URL of a real Alertmanager with a null receiver (a generator for a fixture)."""
    config = tmp_path / "alertmanager.yml"
    config.write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"alertmanager not ready: {(tmp_path / 'alertmanager.log').read_text()}"
                )
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
