"""Faust's own limit on this machine, for the broker benchmark.

``python -m streams.bare_faust`` runs a Faust worker configured exactly as ``groundswell
worker`` (:func:`streams.app.faust_app`, the same ``GROUNDSWELL_*`` settings) with one
agent: it takes ``posts.raw`` messages as the normalize agent does (:data:`~streams.app.TAKE`
at a time) and only splits them into their records, with no decoding and nothing sent on.
What it reaches is the most a worker could reach in this framework; the pipeline's
throughput is read against it and against a plain aiokafka consumer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from streams.app import TAKE, TAKE_WITHIN_S, bytes_topic, data_folder, faust_app, run_worker
from streams.files import message_records
from streams.settings import Settings
from streams.topics import RAW


def bare_app(settings: Settings) -> faust.App:
    app = faust_app(settings, data_folder(settings))

    @app.agent(bytes_topic(app, settings.topic(RAW)), name="bare", concurrency=1)
    async def bare(stream: Any) -> None:
        async for events in stream.take_events(TAKE, within=TAKE_WITHIN_S):
            for event in events:
                message_records(event.value or b"", event.message.headers)

    return app


def main() -> None:
    settings = Settings.from_env()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    run_worker(bare_app(settings), settings, loop)


if __name__ == "__main__":
    main()
