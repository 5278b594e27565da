"""The ``groundswell`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import ConfigError, GroundswellError
from models.records import dumps
from models.timeutil import ms_from_option
from streams.files import REPLAY_BATCH, InputLines, check_files, count_lines
from streams.settings import Settings, env_name

if TYPE_CHECKING:
    from streams.chain import Stages


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "bootstrap": getattr(args, "bootstrap", None),
        "regions": getattr(args, "regions", None),
        "region_id_property": getattr(args, "id_property", None),
        "region_name_property": getattr(args, "name_property", None),
        "region_weight_property": getattr(args, "weight_property", None),
        "region_encoding": getattr(args, "encoding", None),
        "neighbours": getattr(args, "neighbours", None),
    }
    return Settings.from_env().with_overrides(**overrides)


def _stages(settings: Settings) -> Stages:
    from streams.chain import Stages, load_regions

    return Stages(settings, load_regions(settings))


def cmd_worker(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from streams.app import Partitions, create_app, data_folder, run_worker
    from streams.kafka_admin import ensure_topics, partition_count, wait_until_ready
    from streams.metrics import Metrics, serve
    from streams.topics import TopicNames, topic_specs

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    stages = _stages(settings)
    names = TopicNames.of(settings)
    auth = settings.kafka_auth()

    async def prepare() -> Partitions:
        try:
            await wait_until_ready(settings.bootstrap, args.connect_timeout, auth)
        except TimeoutError as exc:
            raise ConfigError("GROUNDSWELL_BOOTSTRAP", settings.bootstrap, str(exc)) from None
        await ensure_topics(
            settings.bootstrap, topic_specs(settings), settings.replication, auth=auth
        )
        counts = [
            await partition_count(settings.bootstrap, t, auth=auth)
            for t in (names.raw, names.normalized, names.relevant)
        ]
        return Partitions(*counts)

    datadir = data_folder(settings)
    metrics = Metrics(CollectorRegistry())
    serve(metrics, settings.metrics_addr, settings.metrics_port, env_name("metrics_port"))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    partitions = loop.run_until_complete(prepare())
    run_worker(create_app(settings, stages, partitions, metrics, datadir), settings, loop)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from streams.kafka_admin import ensure_topics
    from streams.topics import topic_specs

    settings = _settings(args)
    created = asyncio.run(
        ensure_topics(
            settings.bootstrap,
            topic_specs(settings),
            settings.replication,
            auth=settings.kafka_auth(),
        )
    )
    for spec in topic_specs(settings):
        state = "created" if spec.name in created else "exists"
        print(f"{spec.name:40} {spec.partitions:3} partitions  {state}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.kafka_io import replay
    from streams.topics import RAW

    settings = _settings(args)
    check_files([("FILE", args.file)])
    topic = args.topic or settings.topic(RAW)
    speed = None if args.max else args.speed
    if speed is not None and not speed > 0:
        raise ConfigError("--speed", speed, "must be > 0 (or --max)")
    lines = InputLines(args.file, "replay", progress=False)  # replay shows its own
    stats = asyncio.run(
        replay(
            settings.bootstrap,
            topic,
            lines,
            speed=speed,
            flush=not args.no_flush and topic == settings.topic(RAW),
            total=count_lines(args.file),
            auth=settings.kafka_auth(),
            batch=args.batch if topic == settings.topic(RAW) else 1,
            reject=lines.reject,
        )
    )
    bad = f"; {lines.summary()}" if lines.bad else ""
    print(
        f"replayed {stats.lines} lines in {stats.messages} messages to {topic} "
        f"in {stats.seconds:.1f} s{bad}",
        file=sys.stderr,
    )
    return 1 if lines.bad else 0


def cmd_dump(args: argparse.Namespace) -> int:
    from streams.kafka_io import dump

    settings = _settings(args)
    since, until = ms_from_option(args.since, "--since"), ms_from_option(args.until, "--until")
    if args.out != "-":
        check_files([], args.out)
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")  # noqa: SIM115
    try:
        n = asyncio.run(
            dump(
                settings.bootstrap,
                args.topic,
                out,
                from_time_ms=since,
                to_time_ms=until,
                max_messages=args.max_messages,
                follow=args.follow,
                auth=settings.kafka_auth(),
            )
        )
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    print(f"dumped {n} messages from {args.topic}", file=sys.stderr)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from streams.chain import backtest

    settings = _settings(args)
    check_files([("INPUT", args.input), *settings.input_files()], args.out)
    stages = _stages(settings)
    lines = InputLines(args.input, "backtest")
    result = backtest(stages, lines, lines.reject)
    with open(args.out, "wb") as fh:
        for alert in result.alerts:
            fh.write(dumps(alert.to_wire()) + b"\n")
    print(
        f"{result.lines} lines, {result.posts} posts, {result.relevant} relevant, "
        f"{len(result.alerts)} alert events -> {args.out}; {lines.summary()}",
        file=sys.stderr,
    )
    return 1 if lines.bad else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from models.scenario import build_scenario, write_scenario

    sc = build_scenario(args.scenario, args.seed)
    write_scenario(sc, Path(args.out))
    print(
        f"{len(sc.posts)} posts, {len(sc.tickets)} tickets, {len(sc.truth.outages)} outage(s), "
        f"{len(sc.truth.decoys)} decoy(s) -> {args.out}",
        file=sys.stderr,
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.evaluate import evaluate, read_alerts, read_truth

    settings = _settings(args)
    check_files([("--alerts", args.alerts), ("--truth", args.truth), *settings.region_files()])
    neighbours = None
    if args.regions:
        from streams.chain import load_regions

        regions = load_regions(settings)
        neighbours = {r: regions.neighbours(r) for r in regions.ids}
    result = evaluate(
        read_alerts(args.alerts), read_truth(args.truth), neighbours, int(args.grace_min * 60_000)
    )
    print(dumps(result.to_dict()).decode() if args.json else result.table())
    return 0


def cmd_regions_info(args: argparse.Namespace) -> int:
    import time

    from geo.adjacency import load_topology
    from geo.cache import GeoCache
    from streams.chain import load_regions

    settings = _settings(args).with_overrides(regions=args.file)
    started = time.perf_counter()
    regions = load_regions(settings)
    topology = load_topology(
        regions, settings.neighbours, settings.zone_size, GeoCache(settings.geo_cache_path())
    )
    seconds = time.perf_counter() - started
    zones = topology.zone_of
    zone_weight: dict[str, float] = {}
    for rid, zone in zones.items():
        zone_weight[zone] = zone_weight.get(zone, 0.0) + regions.region(rid).weight
    islands = sum(1 for nb in topology.neighbours if not nb)
    weights = regions.weights
    x0, y0, x1, y1 = regions.bounds
    mean_zone = sum(zone_weight.values()) / len(zone_weight)
    print(f"source    {args.file}")
    print(f"regions   {len(regions)}")
    print(f"bounds    lon {x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f}")
    print(f"weights   total {sum(weights):,.0f}, min {min(weights):,.0f}, max {max(weights):,.0f}")
    print(
        f"zones     {len(zone_weight)} (at most {settings.zone_size} regions each; heaviest "
        f"{max(zone_weight.values()) / mean_zone:.1f}x the mean weight)"
    )
    print(f"islands   {islands} (regions without a neighbour, {settings.neighbours})")
    print(f"sha256    {regions.sha256}")
    print(f"cache     {settings.geo_cache_path() or 'off'} (loaded in {seconds:.2f} s)")
    for rid in regions.ids[: args.show]:
        weight = regions.region(rid).weight
        print(f"  {rid:20} {regions.name(rid):30} {weight:>12,.0f}  zone {zones[rid]}")
    return 0


def cmd_locate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_files([("INPUT", args.input), *settings.input_files()], args.out)
    stages = _stages(settings)
    regions, locator = stages.regions, stages.locator
    lines = InputLines(args.input, "locate")
    methods: dict[str, int] = {}
    with open(args.out, "wb") as out:
        for post in lines.posts():
            where = locator.locate(post)
            methods[where.method] = methods.get(where.method, 0) + 1
            row = post.to_wire()
            row.update(
                region_id=where.region_id,
                locate_method=where.method,
                locate_confidence=where.confidence,
                region_name=regions.name(where.region_id) if where.region_id else None,
            )
            out.write(dumps(row) + b"\n")
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(methods.items()))
    print(f"located -> {args.out}; {summary}; {lines.summary()}", file=sys.stderr)
    return 1 if lines.bad else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(_settings(args), timeout_s=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groundswell",
        description="Network-outage alerts from public complaints (Kafka + Faust).",
        epilog="Settings come from GROUNDSWELL_* variables; see the README.",
    )
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (GROUNDSWELL_BOOTSTRAP)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def property_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--id-property", help="feature property holding the region id")
        p.add_argument("--name-property", help="feature property holding the region name")

    def geo_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--weight-property", help="feature property holding the region weight")
        p.add_argument("--encoding", help="text encoding of the region file (default utf-8)")
        p.add_argument("--neighbours", help="touch, border or knn:K (default touch)")

    def regions_opts(p: argparse.ArgumentParser, default: str = "the demo grid") -> None:
        p.add_argument(
            "--regions",
            help="region file or spec: FILE.geojson, hex:CC:RES, hex:bbox:W,S,E,N:RES, "
            f"voronoi:SITES.csv[:BOUNDARY], admin0:CC, admin1:CC (default: {default})",
        )
        property_opts(p)
        geo_opts(p)

    p = sub.add_parser("worker", help="run a pipeline worker (all agents)")
    regions_opts(p)
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the broker at start",
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("topics", help="create the pipeline topics if missing")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("replay", help="send a JSON-lines file (posts or a dump) to a topic")
    p.add_argument("file")
    p.add_argument("--topic", help="target topic (default: posts.raw)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="event-time speed-up factor (default 1 = real time)",
    )
    pace.add_argument("--max", action="store_true", help="as fast as possible")
    p.add_argument(
        "--batch",
        type=_positive_int,
        default=REPLAY_BATCH,
        help=f"posts per message on posts.raw with --max (default {REPLAY_BATCH}; 1 = one each)",
    )
    p.add_argument("--no-flush", action="store_true", help="do not send the end-of-file watermark")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("dump", help="write a topic to a JSON-lines file")
    p.add_argument("topic")
    p.add_argument("--out", required=True, help="output file, '-' for stdout")
    p.add_argument("--since", help="ISO time: start at the first message at or after it")
    p.add_argument("--until", help="ISO time: skip messages at or after it")
    p.add_argument("--max-messages", type=int)
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep reading new messages instead of stopping at the end",
    )
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser("backtest", help="run the whole chain offline on a file")
    p.add_argument("input", help="JSON lines: posts in any supported format, or a dump")
    regions_opts(p)
    p.add_argument("--out", required=True, help="alerts as JSON lines")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("alerts", help="read the alerts topic, deliver it to Alertmanager/webhook")
    asub = p.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    from streams.delivery import add_alerts_commands

    add_alerts_commands(asub, _settings)

    from models.scenario import scenario_names

    p = sub.add_parser("simulate", help="write a generated scenario (posts, tickets, truth)")
    p.add_argument(
        "--scenario",
        default="demo",
        help=f"bundled scenario ({', '.join(scenario_names())}) or a scenario TOML file",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("evaluate", help="score alerts against a simulated scenario's truth")
    p.add_argument("--alerts", required=True, help="alerts as JSON lines (backtest --out)")
    p.add_argument("--truth", required=True, help="truth.jsonl written by simulate")
    regions_opts(p, "none; given, an alert in a neighbouring region also matches")
    p.add_argument(
        "--grace-min",
        type=float,
        default=30.0,
        help="minutes after an outage's end in which an alert still detects it",
    )
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("regions", help="inspect a region file")
    rsub = p.add_subparsers(dest="regions_command", required=True, metavar="ACTION")
    r = rsub.add_parser("info", help="count, bounds, weights, zones and hash of a region set")
    r.add_argument("file", metavar="FILE|SPEC", help="region file or spec (see --regions)")
    property_opts(r)
    geo_opts(r)
    r.add_argument("--show", type=int, default=10, help="list this many regions")
    r.set_defaults(func=cmd_regions_info)

    p = sub.add_parser("locate", help="add region, method and confidence to each post")
    p.add_argument("input", help="JSON lines: posts in any supported format, or a dump")
    regions_opts(p)
    p.add_argument("--out", required=True, help="located posts as JSON lines")
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("demo", help="broker, worker and the bundled scenario, alerts on screen")
    p.add_argument("--timeout", type=float, default=150.0, help="give up after this many seconds")
    p.set_defaults(func=cmd_demo)

    from streams.relevance_cmd import register
    from streams.series_cmd import register as register_series

    register(sub)
    register_series(sub)
    from streams.report import add_report_command

    add_report_command(sub, regions_opts)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"groundswell: configuration error: {exc}", file=sys.stderr)
        return 2
    except GroundswellError as exc:
        print(f"groundswell: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
