"""The Faust agents through ``agent.test_context()``: no broker, outputs recorded."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest

from models.records import Post, Watermark, dumps, loads
from streams.agents import normalize
from streams.app import Context, Partitions, bytes_topic

T = 1_709_528_400_000  # 2024-03-04T05:00:00Z


class Recorder:
    """Stands in for an output topic: records what the agent sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kw: Any) -> None:
        self.sent.append(kw)


@pytest.fixture
async def app() -> faust.App:
    app = faust.App("test-agents", store="memory://", web_enabled=False)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.flow_control.resume()
    return app


def _context(app: faust.App, stages: Any) -> Context:
    return Context(
        settings=None,  # type: ignore[arg-type]
        stages=stages,
        partitions=Partitions(raw=2, normalized=3, relevant=2),
        raw=bytes_topic(app, "raw"),
        normalized=Recorder(),
        relevant=Recorder(),
        deadletter=Recorder(),
        alerts=Recorder(),
    )


async def test_normalize_agent_forwards_rejects_and_ticks(app: faust.App) -> None:
    ctx = _context(app, SimpleNamespace(lateness_ms=60_000, window_ms=300_000))
    normalize.register(app, ctx)
    agent = app.agents["normalize"]
    good = Post("p1", "no signal", T + 400_000, author="u1")
    async with agent.test_context() as a:
        await a.put(dumps(good.to_wire()), partition=1)
        await a.put(b"{broken", partition=1)
        old = Post("p0", "no signal", T, author="u2")  # far behind the watermark: late
        await a.put(dumps(old.to_wire()), partition=1)
    (sent,) = ctx.normalized.sent[:1]
    assert sent["key"] == b"p1" and Post.from_wire(loads(sent["value"])) == good
    ticks = [loads(s["value"]) for s in ctx.normalized.sent[1:]]
    assert [s["partition"] for s in ctx.normalized.sent[1:]] == [0, 1, 2]
    assert all(Watermark.from_wire(t) == Watermark("1", T + 300_000) for t in ticks)
    reasons = [dict(d["headers"])["reason"] for d in ctx.deadletter.sent]
    assert reasons == [b"invalid json", b"late"]
    assert ctx.deadletter.sent[0]["value"] == b"{broken"
