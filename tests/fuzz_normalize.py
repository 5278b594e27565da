"""Coverage-guided fuzzing of the pure chain with atheris, run by hand (not by pytest):

    pip install -e '.[fuzz]'
    python tests/fuzz_normalize.py -runs=200000 -max_len=2048 [corpus_dir]

Each input is either raw bytes for ``posts.raw`` or, when its first byte is odd, a record
of a supported format whose fields the rest of the input fills. It goes through
``Origin.process`` -> ``Stages.relevant`` -> ``Detection`` as the workers run them; any
exception but a dead-lettered ``InvalidRecord`` is a crash, and so is a rejection without
a reason or, for a whole record, without its original bytes.
"""

from __future__ import annotations

import sys
from typing import Any

T = 1_709_528_400_000  # 2024-03-04T05:00:00Z
DAY_MS = 86_400_000
TEMPLATES: tuple[dict[str, Any], ...] = (
    {"id": "1", "text": "no signal in Milano", "created_at": T, "lon": 9.19, "lat": 45.46},
    {"id": "1", "text": "rete giù", "created_at": T, "place": "Roma", "lang": "it"},
    {
        "id_str": "1",
        "text": "no 4G",
        "created_at": "Mon Mar 04 05:00:00 +0000 2024",
        "user": {"id_str": "9", "location": "Torino"},
        "coordinates": {"type": "Point", "coordinates": [7.68, 45.07]},
    },
    {
        "data": [{"id": "1", "text": "internet down", "created_at": T, "author_id": "9"}],
        "includes": {"users": [{"id": "9", "location": "Napoli"}]},
    },
    {
        "id": "1",
        "content": "<p>niente rete<br/>a Bari</p>",
        "created_at": "2024-03-04T05:00:00Z",
        "account": {"acct": "a@b.example"},
    },
)


def _value(fdp: Any) -> Any:
    """One JSON value of any type, from the fuzzer's bytes."""
    kind = fdp.ConsumeIntInRange(0, 7)
    if kind == 0:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 300))
    if kind == 1:
        return fdp.ConsumeInt(8)
    if kind == 2:
        return T + fdp.ConsumeIntInRange(-DAY_MS, DAY_MS)
    if kind == 3:
        return fdp.ConsumeRegularFloat()
    if kind == 4:
        return [_value(fdp) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if kind == 5:
        return {fdp.ConsumeUnicodeNoSurrogates(8): _value(fdp)}
    if kind == 6:
        return fdp.ConsumeBool()
    return None


def main() -> None:
    import atheris

    with atheris.instrument_imports():
        import orjson

        from models.errors import InvalidRecord
        from streams.chain import Detection, Stages, load_regions
        from streams.settings import Settings

    settings = Settings(window_s=300, lateness_s=60, zone_size=5)
    stages = Stages(settings, load_regions(settings))
    state: dict[str, Any] = {"detection": Detection(stages), "tick": None}

    def record(data: bytes) -> bytes:
        if not data or data[0] % 2 == 0:
            return data[1:]
        fdp = atheris.FuzzedDataProvider(data[1:])
        obj: dict[str, Any] = orjson.loads(orjson.dumps(TEMPLATES[data[0] % len(TEMPLATES)]))
        target = obj["data"][0] if "data" in obj else obj
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            keys = [*target, "lang", "place", "lon", "lat", "reblog", "schema_version"]
            target[keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]] = _value(fdp)
        return orjson.dumps(obj)

    def one_input(data: bytes) -> None:
        raw = record(data)
        out = stages.origin().process(raw)
        for reason, _detail, kept in out.rejected:
            assert isinstance(reason, str) and reason
            if reason not in ("late", "too far ahead"):  # else one post of it, normalized
                assert kept == raw and len(out.rejected) == 1 and not out.posts, reason
        detection, tick = state["detection"], state["tick"]
        for post in out.posts:
            relevant = stages.relevant(post)
            if relevant is not None:
                detection.observe(relevant)
        if out.tick_ms is not None:
            if tick is not None and not tick <= out.tick_ms <= tick + DAY_MS:
                state["detection"] = detection = Detection(stages)  # bounded work per input
            detection.advance(out.tick_ms)
            state["tick"] = out.tick_ms

    def guarded(data: bytes) -> None:
        try:
            one_input(data)
        except InvalidRecord as exc:  # a stage after the origin may refuse, with a reason
            assert exc.reason

    atheris.Setup(sys.argv, guarded)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
