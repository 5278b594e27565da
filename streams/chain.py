"""The pure stages wired together, shared by the Faust agents and the offline backtest.

Every decision the stream makes is made here, by plain objects that know nothing of
Kafka: the agents only decode, call these, send and count. That is what makes a replay
through Kafka and ``groundswell backtest`` on the same file give the same alerts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from geo.gazetteer import Gazetteer
from geo.locate import Locator
from geo.regions import RegionSet
from geo.zones import assign_zones
from models.detect import ZoneDetector
from models.errors import InvalidRecord
from models.formats import load_raw, normalize_raw
from models.records import Alert, Post, RelevantPost, Watermark, dumps
from models.relevance import Lexicon, RelevanceClassifier
from models.scenario import build_demo
from models.watermark import MinClock, OriginClock, TickGate
from streams.files import message_value
from streams.settings import Settings

UNLOCATED_ZONE = "unlocated"


def load_regions(settings: Settings) -> RegionSet:
    """The operator's region file, or the bundled demo grid when none is set."""
    if settings.regions:
        return RegionSet.from_geojson(
            settings.regions,
            id_property=settings.region_id_property or None,
            name_property=settings.region_name_property or None,
        )
    return RegionSet.from_mapping(build_demo().regions)


class Stages:
    """The stage objects, built once per process from the settings and a region set."""

    def __init__(self, settings: Settings, regions: RegionSet) -> None:
        self.regions = regions
        langs = [x.strip() for x in settings.langs.split(",") if x.strip()] or None
        self.classifier = RelevanceClassifier(Lexicon.load(langs))
        self.locator = Locator(regions, Gazetteer.default(), settings.country_bias or None)
        self.zone_of = assign_zones(regions, settings.zone_size)
        self.zones: tuple[str, ...] = (*sorted(set(self.zone_of.values())), UNLOCATED_ZONE)
        self._zone_regions: dict[str, list[tuple[str, str]]] = {z: [] for z in self.zones}
        for region_id in regions.ids:
            self._zone_regions[self.zone_of[region_id]].append((region_id, regions.name(region_id)))
        self.detector_config = settings.detector_config(len(regions))
        self.window_ms = settings.window_s * 1000
        self.lateness_ms = settings.lateness_s * 1000
        self._author_key = settings.author_key.encode()

    def author_hash(self, post: Post) -> str:
        """Keyed hash of the author (or of the post id when the author is unknown)."""
        who = post.author or f"post:{post.id}"
        return hmac.new(self._author_key, who.encode(), hashlib.sha256).hexdigest()[:16]

    def relevant(self, post: Post) -> RelevantPost | None:
        """Classify and locate one post; None when it is not a network complaint."""
        verdict = self.classifier.classify(post)
        if not verdict.relevant:
            return None
        where = self.locator.locate(post)
        zone = self.zone_of[where.region_id] if where.region_id else UNLOCATED_ZONE
        return RelevantPost(
            post_id=post.id,
            created_at_ms=post.created_at_ms,
            author_hash=self.author_hash(post),
            zone_id=zone,
            region_id=where.region_id,
            category=verdict.category or "mobile_data",
            lang=verdict.lang,
            score=verdict.score,
            locate_method=where.method,
            is_repost=post.is_repost,
        )

    def new_detector(self, zone_id: str) -> ZoneDetector:
        return ZoneDetector(
            self.detector_config, zone_id, self._zone_regions[zone_id], self.regions.union_geojson
        )

    def detector_from_state(self, zone_id: str, state: dict[str, Any]) -> ZoneDetector:
        return ZoneDetector.from_state(
            self.detector_config, self._zone_regions[zone_id], state, self.regions.union_geojson
        )


@dataclass
class Normalized:
    """What the origin stage made of one raw message."""

    posts: list[Post] = field(default_factory=list)
    rejected: list[tuple[str, str, bytes]] = field(default_factory=list)  # reason, detail, bytes
    tick_ms: int | None = None


class Origin:
    """The first stage for one input partition: decode, drop late posts, emit watermarks."""

    def __init__(self, lateness_ms: int, window_ms: int) -> None:
        self.clock = OriginClock(lateness_ms)
        self.gate = TickGate(window_ms)
        self.latest_ms: int | None = None

    def finish(self) -> int | None:
        """End of input: flush to the latest event time seen, as ``replay`` does at the end
        of a file; returns the last watermark tick, if a new one."""
        if self.latest_ms is not None:
            self.clock.flush(self.latest_ms)
        return self.gate.offer(self.clock.watermark_ms)

    def process(self, data: bytes) -> Normalized:
        out = Normalized()
        try:
            obj = load_raw(data)
            if Watermark.is_watermark(obj):
                self.clock.flush(Watermark.from_wire(obj).watermark_ms)
            else:
                for post in normalize_raw(obj):
                    if self.clock.observe(post.created_at_ms):
                        out.posts.append(post)
                        self.latest_ms = max(post.created_at_ms, self.latest_ms or 0)
                    else:
                        detail = f"before watermark {self.clock.watermark_ms}"
                        out.rejected.append(("late", detail, dumps(post.to_wire())))
        except InvalidRecord as exc:
            out.rejected.append((exc.reason, exc.detail, data))
        out.tick_ms = self.gate.offer(self.clock.watermark_ms)
        return out


class ZoneRunner:
    """One zone's detector and the watermark it gets from every upstream partition."""

    def __init__(self, detector: ZoneDetector, clock: MinClock) -> None:
        self.detector = detector
        self.clock = clock

    def on_watermark(self, source: str, watermark_ms: int) -> list[Alert]:
        current = self.clock.observe(source, watermark_ms)
        return [] if current is None else self.detector.advance(current)

    def to_state(self) -> dict[str, Any]:
        return {"detector": self.detector.to_state(), "clock": self.clock.to_state()}

    @classmethod
    def restore(cls, stages: Stages, zone_id: str, n_sources: int, state: Any) -> ZoneRunner:
        """From a saved state, or a fresh runner when there is none."""
        if not state:
            return cls(stages.new_detector(zone_id), MinClock(n_sources))
        return cls(
            stages.detector_from_state(zone_id, state["detector"]),
            MinClock.from_state(state["clock"]),
        )


@dataclass
class BacktestResult:
    alerts: list[Alert]
    lines: int = 0
    posts: int = 0
    relevant: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


def backtest(stages: Stages, lines: Iterable[bytes]) -> BacktestResult:
    """Run the whole chain offline over raw lines, in order, with one source partition.

    At the end the watermark is flushed to the latest event time seen, exactly as
    ``groundswell replay`` does through Kafka.
    """
    origin = Origin(stages.lateness_ms, stages.window_ms)
    detectors: dict[str, ZoneDetector] = {}
    result = BacktestResult(alerts=[])

    def advance(watermark_ms: int) -> None:
        for zone in sorted(detectors):
            result.alerts.extend(detectors[zone].advance(watermark_ms))

    for line in lines:
        result.lines += 1
        out = origin.process(message_value(line))
        for reason, _detail, _data in out.rejected:
            result.rejected[reason] = result.rejected.get(reason, 0) + 1
        for post in out.posts:
            result.posts += 1
            rp = stages.relevant(post)
            if rp is None:
                continue
            result.relevant += 1
            detector = detectors.get(rp.zone_id)
            if detector is None:
                detector = detectors[rp.zone_id] = stages.new_detector(rp.zone_id)
            detector.observe(rp)
        if out.tick_ms is not None:
            advance(out.tick_ms)
    tick = origin.finish()
    if tick is not None:
        advance(tick)
    return result


def iter_lines(path: str) -> Iterator[bytes]:
    """Non-empty lines of a JSON-lines file, as bytes."""
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield line
