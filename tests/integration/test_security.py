"""SASL/SCRAM and TLS against a broker of the test's own, with a test CA made during the
test: clients and a whole worker connect, a wrong password fails fast, and no secret shows
up in logs or metrics."""

from __future__ import annotations

import asyncio
import io
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models.errors import ConfigError
from models.records import dumps, loads
from models.scenario import build_demo
from streams.files import DumpRecord
from streams.kafka_admin import ensure_topics, wait_until_ready
from streams.kafka_io import dump, replay
from streams.settings import KafkaAuth, Settings
from streams.topics import ALERTS, RAW, topic_specs
from streams.workers import WorkerProcess, free_port
from tests.support import LocalBroker, make_tls_files, random_cluster_id

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "scram-secret-9f3b"
PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")
JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """A broker with one listener per security protocol: their addresses and the CA file."""
    folder = tmp_path_factory.mktemp("secure-kafka")
    ca, server_pem = make_tls_files(folder / "tls")
    ports = {p: free_port() for p in (*PROTOCOLS, "CONTROLLER")}
    listeners = {
        name: (name if name != "CONTROLLER" else "PLAINTEXT", port) for name, port in ports.items()
    }
    extra = {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": JAAS,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": JAAS,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(server_pem),
        "offsets.topic.num.partitions": "1",
    }
    broker = LocalBroker(folder, 1, listeners, {1: ports["CONTROLLER"]}, extra)
    broker.format(random_cluster_id(), f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]")
    broker.start()
    try:
        plain = f"127.0.0.1:{ports['PLAINTEXT']}"
        try:
            asyncio.run(wait_until_ready(plain, 90))
        except TimeoutError:
            pytest.fail(f"secure broker did not start:\n{broker.log_tail()}")
        yield {p: f"127.0.0.1:{ports[p]}" for p in PROTOCOLS}, ca
    finally:
        broker.stop()


def _auth(protocol: str, ca: Path, password: str = PASSWORD) -> KafkaAuth:
    sasl = protocol.startswith("SASL_")
    return KafkaAuth(
        protocol,
        "SCRAM-SHA-512",
        USER if sasl else "",
        password if sasl else "",
        str(ca) if protocol.endswith("SSL") else "",
    )


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SSL", "SASL_SSL"])
def test_clients_replay_and_dump_over_each_protocol(secure, protocol: str) -> None:
    addresses, ca = secure
    auth = _auth(protocol, ca)
    bootstrap = addresses[protocol]
    settings = Settings(bootstrap=bootstrap, topic_prefix=f"sec-{protocol.lower()}.")
    asyncio.run(wait_until_ready(bootstrap, 30, auth))
    asyncio.run(ensure_topics(bootstrap, topic_specs(settings), auth=auth))
    lines = [b'{"id": "1", "text": "no signal", "created_at": "2024-03-04T05:00:00Z"}']
    asyncio.run(replay(bootstrap, settings.topic(ALERTS), lines, flush=False, auth=auth))
    buf = io.BytesIO()
    asyncio.run(dump(bootstrap, settings.topic(ALERTS), buf, auth=auth))
    records = [DumpRecord.from_line(x) for x in buf.getvalue().splitlines()]
    assert [r.value for r in records if r is not None] == lines


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_a_wrong_password_fails_fast_without_showing_it(secure, protocol: str) -> None:
    addresses, ca = secure
    wrong = "not-the-password-77"
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        asyncio.run(wait_until_ready(addresses[protocol], 20, _auth(protocol, ca, wrong)))
    assert time.monotonic() - started < 10, "no retries until the timeout"
    message = str(caught.value)
    assert "GROUNDSWELL_SASL" in message and "authentication failed" in message
    assert wrong not in message and PASSWORD not in message


def test_untrusted_certificate_is_refused(secure, tmp_path: Path) -> None:
    addresses, _ca = secure
    other_ca, _ = make_tls_files(tmp_path / "other")
    with pytest.raises(ConfigError, match=r"GROUNDSWELL_SSL_CAFILE.*certificate refused"):
        asyncio.run(wait_until_ready(addresses["SSL"], 10, _auth("SSL", other_ca)))


def test_a_worker_runs_the_pipeline_over_sasl_ssl_and_never_shows_the_secret(
    secure, tmp_path: Path, wait_for: Callable[..., None]
) -> None:
    addresses, ca = secure
    bootstrap = addresses["SASL_SSL"]
    scenario = build_demo(seed=3)
    regions = tmp_path / "regions.geojson"
    regions.write_bytes(dumps(scenario.regions))
    settings = Settings(
        bootstrap=bootstrap,
        topic_prefix="sec-worker.",
        app_id="sec-worker",
        partitions=2,
        regions=str(regions),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=USER,
        sasl_password=PASSWORD,
        ssl_cafile=str(ca),
        log_level="debug",
    )
    assert PASSWORD not in repr(settings)
    auth = settings.kafka_auth()
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        asyncio.run(ensure_topics(bootstrap, topic_specs(settings), auth=auth))
        lines = [dumps(p.to_wire()) for p in scenario.posts]
        asyncio.run(replay(bootstrap, settings.topic(RAW), lines, flush=True, auth=auth))

        def opened() -> bool:
            buf = io.BytesIO()
            asyncio.run(dump(bootstrap, settings.topic(ALERTS), buf, auth=auth))
            records = [DumpRecord.from_line(x) for x in buf.getvalue().splitlines()]
            return any(
                r is not None and loads(r.value or b"")["status"] == "opened" for r in records
            )

        wait_for(opened, 150, "an alert over SASL_SSL", worker)
        with urllib.request.urlopen(worker.metrics_url, timeout=5) as resp:
            metrics = resp.read().decode()
        assert "groundswell_alerts_events_total" in metrics and PASSWORD not in metrics
    finally:
        worker.stop()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "Ready" in log or "alert" in log
    assert PASSWORD not in log
