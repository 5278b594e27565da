"""The pure stages wired together, shared by the Faust agents and the offline backtest.

Every decision the stream makes is made here, by plain objects that know nothing of
Kafka: the agents only decode, call these, send and count. That is what makes a replay
through Kafka and ``groundswell backtest`` on the same file give the same alerts.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from geo.adjacency import load_topology
from geo.cache import GeoCache
from geo.gazetteer import Gazetteer
from geo.locate import Locator
from geo.regions import RegionSet
from geo.spec import load_region_set
from models.detect import DetectorConfig, ZoneDetector
from models.errors import GroundswellError, InvalidRecord
from models.formats import load_raw, native_post, normalize_raw
from models.global_detect import GlobalDetector
from models.privacy import pseudonym, redact
from models.records import Alert, Post, RelevantPost, Watermark, dumps
from models.relevance import Brands, Lexicon, RelevanceClassifier
from models.scenario import build_demo
from models.trained import RelevanceModel, TrainedRelevance
from models.watermark import LATE, TOO_FAR_AHEAD, MinClock, OriginClock, TickGate
from streams.files import InputLines, line_records
from streams.settings import Settings, env_name

UNLOCATED_ZONE = "unlocated"


def load_regions(settings: Settings) -> RegionSet:
    """The operator's regions (a file or a built set, see ``geo.spec``) weighted by
    population, or the bundled demo grid when none is set."""
    if settings.regions:
        return load_region_set(
            settings.regions,
            id_property=settings.region_id_property or None,
            name_property=settings.region_name_property or None,
            weight_property=settings.region_weight_property or None,
            encoding=settings.region_encoding,
            gazetteer=lambda: gazetteer(settings),
            cache=GeoCache(settings.geo_cache_path()),
            setting=env_name("regions"),
            options={
                option: env_name("region_" + option)
                for option in ("id_property", "name_property", "weight_property", "encoding")
            },
        )
    return RegionSet.from_mapping(build_demo().regions)


def gazetteer(settings: Settings) -> Gazetteer:
    """The process-wide gazetteer for these settings (cached on disk)."""
    return Gazetteer.default(settings.gazetteer_detail(), settings.geo_cache_path())


def lexicon_classifier(settings: Settings) -> RelevanceClassifier:
    """The lexicon classifier of ``settings.langs`` (every bundled language when empty)
    with the brand lexicon of ``settings.brands`` (the bundled one when empty)."""
    lexicon = Lexicon.load(settings.lexicon_langs())
    return RelevanceClassifier(lexicon, Brands.load(settings.brands or None))


def relevance_stage(settings: Settings) -> RelevanceClassifier | TrainedRelevance:
    """The lexicon classifier, behind the trained model when ``relevance_model`` is set."""
    classifier = lexicon_classifier(settings)
    if not settings.relevance_model:
        return classifier
    setting = env_name("relevance_model")
    return TrainedRelevance(
        classifier, RelevanceModel.load(settings.relevance_model, setting), setting
    )


class Stages:
    """The stage objects, built once per process from the settings and a region set."""

    def __init__(self, settings: Settings, regions: RegionSet) -> None:
        self.regions = regions
        self.classifier = relevance_stage(settings)
        self.locator = Locator(regions, gazetteer(settings), settings.country_bias or None)
        self.topology = load_topology(
            regions, settings.neighbours, settings.zone_size, GeoCache(settings.geo_cache_path())
        )
        self.zone_of = self.topology.zone_of
        self._all_regions = [(r, regions.name(r)) for r in regions.ids]
        self.zones: tuple[str, ...] = (*sorted(set(self.zone_of.values())), UNLOCATED_ZONE)
        self._zone_regions: dict[str, list[tuple[str, str]]] = {z: [] for z in self.zones}
        for region_id in regions.ids:
            self._zone_regions[self.zone_of[region_id]].append((region_id, regions.name(region_id)))
        self.detector_config = settings.detector_config(len(regions))
        self.window_ms = settings.window_s * 1000
        self.lateness_ms = settings.lateness_s * 1000
        self._author_key = settings.author_key.encode()
        self._history: dict[str, list[RelevantPost]] = {}
        if settings.history:
            lines = InputLines(settings.history, "history", progress=False)
            for item in relevant_stream(self, lines, reject=lines.reject):
                if not isinstance(item, int):
                    self._history.setdefault(item.zone_id, []).append(item)
            if lines.bad:
                print(f"{settings.history}: {lines.summary()}", file=sys.stderr)

    def author_hash(self, post: Post) -> str:
        """The author's pseudonym: posts reach this stage through :meth:`origin`, which has
        already replaced the author by its keyed hash; a post without an author gets the
        keyed hash of its id."""
        return post.author or pseudonym(self._author_key, f"post:{post.id}")

    def origin(self) -> Origin:
        """The first stage for one input partition, authors pseudonymised with this key
        and contact details masked."""
        return Origin(self.lateness_ms, self.window_ms, self._author_key)

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
            brands=verdict.brands,
        )

    def _layout(self, zone_id: str) -> dict[str, Any]:
        """Centroids, weights and neighbours of a zone's regions (scan and alert merging)."""
        ids = [r for r, _ in self._zone_regions[zone_id]]
        return {
            "centroids": {r: self.regions.centroid(r) for r in ids},
            "weights": {r: self.regions.region(r).weight for r in ids},
            "neighbours": {r: self._neighbours(r) for r in ids},
        }

    def _neighbours(self, region_id: str) -> tuple[str, ...]:
        """The region's neighbours as ``GROUNDSWELL_NEIGHBOURS`` defines them."""
        ids = self.regions.ids
        return tuple(ids[j] for j in self.topology.neighbours[self.regions.index(region_id)])

    def new_detector(self, zone_id: str) -> ZoneDetector:
        """A fresh zone detector, its baselines warm-started from the zone's posts in the
        history file (``GROUNDSWELL_HISTORY``) when one is set."""
        detector = ZoneDetector(
            self.detector_config,
            zone_id,
            self._zone_regions[zone_id],
            self.regions.union_geojson,
            **self._layout(zone_id),
        )
        past = self._history.get(zone_id)
        if past:
            start_ms, counts = detector.window_counts(past)
            detector.warm_start(start_ms, counts)
        return detector

    def detector_from_state(self, zone_id: str, state: dict[str, Any]) -> ZoneDetector:
        return ZoneDetector.from_state(
            self.detector_config,
            self._zone_regions[zone_id],
            state,
            self.regions.union_geojson,
            **self._layout(zone_id),
        )

    def _global_layout(self) -> dict[str, Any]:
        """Region weights, zones as blocks, unlocated posts counted (global detector)."""
        return {
            "weights": {r: self.regions.region(r).weight for r in self.regions.ids},
            "blocks": self.zone_of,
            "include_unlocated": True,
        }

    def new_global_detector(self) -> GlobalDetector:
        """The detector of rises over the whole region set (a nationwide outage)."""
        return GlobalDetector(
            self.detector_config,
            self._all_regions,
            self.regions.union_geojson,
            **self._global_layout(),
        )

    def global_detector_from_state(self, state: dict[str, Any]) -> GlobalDetector:
        return GlobalDetector.from_state(
            self.detector_config,
            self._all_regions,
            state,
            self.regions.union_geojson,
            **self._global_layout(),
        )


@dataclass
class Normalized:
    """What the origin stage made of one raw message."""

    posts: list[Post] = field(default_factory=list)
    rejected: list[tuple[str, str, bytes]] = field(default_factory=list)  # reason, detail, bytes
    tick_ms: int | None = None


MAX_AHEAD_MS = 86_400_000
"""How far past the latest event time of its partition a post may lie on its own: one
further ahead is refused ("too far ahead") unless the post just before it is as far
ahead too. A lone post dated decades ahead would otherwise move the watermark there:
every later post would be late and each detector would close every window up to it. A
real jump in time (a feed back after a day's gap) costs its first post only."""


def _kept_private(key: bytes, author: str | None, text: str) -> tuple[str | None, str]:
    """A post's author and text as the pipeline keeps them: the author's keyed pseudonym,
    contact details masked."""
    return (None if author is None else pseudonym(key, author)), redact(text)


class Origin:
    """The first stage for one input partition: decode; with ``author_key``, replace each
    author by its keyed pseudonym and mask phone numbers and e-mail addresses in the text
    (no handle or contact detail travels further, dead letters of refused posts included,
    so the posts an alert's sample ids point to carry none); drop late posts and lone posts
    far ahead (:data:`MAX_AHEAD_MS`); emit watermarks."""

    def __init__(self, lateness_ms: int, window_ms: int, author_key: bytes | None = None) -> None:
        self.private = None if author_key is None else partial(_kept_private, author_key)
        self.clock = OriginClock(lateness_ms)
        self.gate = TickGate(window_ms)
        self.latest_ms: int | None = None
        self.previous_ms: int | None = None  # event time of the last post, kept or not

    def _reason(self, post: Post) -> tuple[str, str] | None:
        """Why ``post`` is refused (reason, detail), or None when it is kept."""
        at, previous = post.created_at_ms, self.previous_ms
        self.previous_ms = at
        latest = self.latest_ms
        alone = previous is None or abs(at - previous) > MAX_AHEAD_MS
        if latest is not None and at > latest + MAX_AHEAD_MS and alone:
            return TOO_FAR_AHEAD, f"{at - latest} ms after the latest post"
        if not self.clock.observe(at):
            return LATE, f"before watermark {self.clock.watermark_ms}"
        return None

    def finish(self) -> int | None:
        """End of input: flush to the latest event time seen, as ``replay`` does at the end
        of a file; returns the last watermark tick, if a new one."""
        if self.latest_ms is not None:
            self.clock.flush(self.latest_ms)
        return self.gate.offer(self.clock.watermark_ms)

    def process(self, data: bytes) -> Normalized:
        out = Normalized()
        try:
            fast = native_post(data, self.private)
            if fast is not None:
                posts = [fast]
            elif Watermark.is_watermark(obj := load_raw(data)):
                self.clock.flush(Watermark.from_wire(obj).watermark_ms)
                posts = []
            else:
                posts, parts = normalize_raw(obj, self.private)  # parts: refused alone
                out.rejected += [(exc.reason, exc.detail, part) for exc, part in parts]
            for post in posts:
                refused = self._reason(post)
                if refused is None:
                    out.posts.append(post)
                    self.latest_ms = max(post.created_at_ms, self.latest_ms or 0)
                else:
                    out.rejected.append((*refused, dumps(post.to_wire())))
        except InvalidRecord as exc:
            out.rejected.append((exc.reason, exc.detail, data))
        out.tick_ms = self.gate.offer(self.clock.watermark_ms)
        return out


class Detector(Protocol):
    """What every detector offers (``models.detect``, ``models.baselines``)."""

    def observe(self, post: RelevantPost) -> bool: ...

    def advance(self, watermark_ms: int) -> list[Alert]: ...


class StatefulDetector(Detector, Protocol):
    """A detector whose state can be kept in a table (``to_state`` / ``from_state``)."""

    def to_state(self) -> dict[str, Any]: ...


class Redelivered(GroundswellError):
    """A relevant post for a window its detector has closed. Upstream sends each post
    before the watermark that covers it, on the same partition, so this happens only when
    a restarted or rebalanced worker reprocesses messages whose effect the detector's
    restored state already holds: the post was counted once and is dropped."""


class Runner:
    """A detector and the watermark it gets from every upstream partition, as a
    streaming agent keeps them (one per zone, and one for the global detector)."""

    def __init__(
        self, detector: StatefulDetector, clock: MinClock, *, counts_unlocated: bool
    ) -> None:
        self.detector = detector
        self.clock = clock
        self.counts_unlocated = counts_unlocated

    def on_watermark(self, source: str, watermark_ms: int) -> list[Alert]:
        current = self.clock.observe(source, watermark_ms)
        return [] if current is None else self.detector.advance(current)

    def on_record(self, obj: Any) -> list[Alert]:
        """A decoded message of the detector's topic: a watermark (alerts it closes) or a
        relevant post (counted, or :class:`Redelivered` when its window has closed)."""
        if Watermark.is_watermark(obj):
            return self.on_item(Watermark.from_wire(obj))
        return self.on_item(RelevantPost.from_wire(obj))

    def on_item(self, item: Watermark | RelevantPost) -> list[Alert]:
        """A watermark (alerts it closes) or a relevant post (counted, or
        :class:`Redelivered` when its window has closed)."""
        if isinstance(item, Watermark):
            return self.on_watermark(item.source, item.watermark_ms)
        counted = self.counts_unlocated or item.region_id is not None
        if not self.detector.observe(item) and counted:
            raise Redelivered(item.post_id)
        return []

    def to_state(self) -> dict[str, Any]:
        return {"detector": self.detector.to_state(), "clock": self.clock.to_state()}

    @classmethod
    def restore_zone(cls, stages: Stages, zone_id: str, n_sources: int, state: Any) -> Runner:
        """A zone's runner from a saved state, or a fresh one when there is none."""
        if not state:
            return cls(stages.new_detector(zone_id), MinClock(n_sources), counts_unlocated=False)
        return cls(
            stages.detector_from_state(zone_id, state["detector"]),
            MinClock.from_state(state["clock"]),
            counts_unlocated=False,
        )

    @classmethod
    def restore_global(cls, stages: Stages, n_sources: int, state: Any) -> Runner:
        """The global detector's runner from a saved state, or a fresh one."""
        if not state:
            return cls(stages.new_global_detector(), MinClock(n_sources), counts_unlocated=True)
        return cls(
            stages.global_detector_from_state(state["detector"]),
            MinClock.from_state(state["clock"]),
            counts_unlocated=True,
        )


@dataclass
class BacktestResult:
    alerts: list[Alert]
    lines: int = 0
    posts: int = 0
    relevant: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


Stream = list[RelevantPost | int]
"""Relevant posts and watermark ticks (int), in the order the chain produced them."""


def relevant_stream(
    stages: Stages,
    lines: Iterable[bytes],
    counts: BacktestResult | None = None,
    reject: Callable[[InvalidRecord], None] | None = None,
) -> Stream:
    """The chain up to detection over raw lines (or dump lines), in order, with one source
    partition; at the end the watermark is flushed to the latest event time seen, exactly
    as ``groundswell replay`` does through Kafka. ``counts`` is filled in on the way, and
    each record refused (what a worker dead-letters) is passed to ``reject`` as it is
    met, with its reason."""
    counts = counts if counts is not None else BacktestResult(alerts=[])
    origin = stages.origin()
    items: Stream = []

    def refused(reason: str, detail: str) -> None:
        counts.rejected[reason] = counts.rejected.get(reason, 0) + 1
        if reject is not None:
            reject(InvalidRecord(reason, detail))

    for line in lines:
        counts.lines += 1
        try:
            records = line_records(line)
        except InvalidRecord as exc:  # a malformed dump line
            refused(exc.reason, exc.detail)
            continue
        for record in records:
            out = origin.process(record)
            for reason, detail, _data in out.rejected:
                refused(reason, detail)
            for post in out.posts:
                counts.posts += 1
                rp = stages.relevant(post)
                if rp is not None:
                    counts.relevant += 1
                    items.append(rp)
            if out.tick_ms is not None:
                items.append(out.tick_ms)
    tick = origin.finish()
    if tick is not None:
        items.append(tick)
    return items


class ZoneDetectors:
    """Detection as the detect agents run it: one detector per zone, made when the zone's
    first post arrives, all advanced in zone order on every tick. ``config`` replaces the
    stages' detector settings (for ablations)."""

    def __init__(self, stages: Stages, config: DetectorConfig | None = None) -> None:
        if config is not None:
            stages = copy.copy(stages)
            stages.detector_config = config
        self.stages = stages
        self.detectors: dict[str, ZoneDetector] = {}

    def observe(self, post: RelevantPost) -> bool:
        detector = self.detectors.get(post.zone_id)
        if detector is None:
            detector = self.detectors[post.zone_id] = self.stages.new_detector(post.zone_id)
        return detector.observe(post)

    def advance(self, watermark_ms: int) -> list[Alert]:
        return [
            a for zone in sorted(self.detectors) for a in self.detectors[zone].advance(watermark_ms)
        ]


class Detection:
    """Detection as the workers run it: every relevant post goes to its zone's detector
    and to the global detector (unlocated posts too); each tick gives the zone alerts in
    zone order, then the global ones."""

    def __init__(self, stages: Stages) -> None:
        self.zones = ZoneDetectors(stages)
        self.nationwide = stages.new_global_detector()

    def observe(self, post: RelevantPost) -> bool:
        """False only when no detector took the post."""
        in_zone = self.zones.observe(post)
        return self.nationwide.observe(post) or in_zone

    def advance(self, watermark_ms: int) -> list[Alert]:
        return self.zones.advance(watermark_ms) + self.nationwide.advance(watermark_ms)


def run_detector(stream: Stream, detector: Detector) -> list[Alert]:
    """Feed the stream to one detector; its alert events in order."""
    alerts: list[Alert] = []
    for item in stream:
        if isinstance(item, int):
            alerts.extend(detector.advance(item))
        else:
            detector.observe(item)
    return alerts


def backtest(
    stages: Stages, lines: Iterable[bytes], reject: Callable[[InvalidRecord], None] | None = None
) -> BacktestResult:
    """Run the whole chain offline over raw lines: the same alerts as a replay through
    Kafka of the same lines (records refused passed to ``reject``, as in
    :func:`relevant_stream`)."""
    result = BacktestResult(alerts=[])
    stream = relevant_stream(stages, lines, result, reject)
    result.alerts = run_detector(stream, Detection(stages))
    return result
