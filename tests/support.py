"""Real local servers the tests talk to: an HTTP receiver and an Alertmanager."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
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


@contextmanager
def serving(command: list[str], url: str, log_path: Path) -> Iterator[str]:
    """Run a Prometheus-family server (``command``) until the block ends, once its
    ``/-/ready`` answers; yields ``url``. Its output goes to ``log_path``."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command[0]} not ready: {log_path.read_text()}")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def alertmanager_at(tmp_path: Path, binary: str) -> Iterator[str]:
    """The URL of a real Alertmanager with a null receiver (a generator for a fixture)."""
    config = tmp_path / "alertmanager.yml"
    config.write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = free_port()
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with serving(command, f"http://127.0.0.1:{port}", tmp_path / "alertmanager.log") as url:
        yield url


ROOT = Path(__file__).resolve().parents[1]
KAFKA_LIBS = ROOT / ".kafka" / "libs"  # fetched from Maven Central by deploy/kafka/kafka.sh


class LocalBroker:
    """A Kafka KRaft node of the test's own (jars of ``deploy/kafka``), with the listeners
    and settings the test asks for; one of a cluster when ``voters`` names several."""

    def __init__(
        self,
        workdir: Path,
        node_id: int,
        listeners: dict[str, tuple[str, int]],
        voters: dict[int, int],
        extra: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir / f"node{node_id}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.node_id = node_id
        self.client_port = listeners["PLAINTEXT"][1]
        self.props = self.workdir / "server.properties"
        names = ",".join(f"{name}://127.0.0.1:{port}" for name, (_, port) in listeners.items())
        protocols = ",".join(f"{name}:{proto}" for name, (proto, _) in listeners.items())
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(node_id),
            "controller.quorum.voters": ",".join(
                f"{n}@127.0.0.1:{port}" for n, port in sorted(voters.items())
            ),
            "listeners": names,
            "advertised.listeners": ",".join(n for n in names.split(",") if "CONTROLLER" not in n),
            "listener.security.protocol.map": protocols,
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.workdir / "data"),
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": str(min(3, len(voters))),
            "transaction.state.log.replication.factor": str(min(3, len(voters))),
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
        } | (extra or {})
        self.props.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.proc: subprocess.Popen[bytes] | None = None

    def _java(self, *args: str) -> list[str]:
        return ["java", "-Xmx384m", "-cp", f"{KAFKA_LIBS}/*", *args]

    def format(self, cluster_id: str, *scram: str) -> None:
        """Format the log directory (``scram``: ``SCRAM-SHA-512=[name=..,password=..]``)."""
        extra = [a for s in scram for a in ("--add-scram", s)]
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.props), *extra
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        log = (self.workdir / "broker.log").open("ab")
        self.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(self.props)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n: int = 30) -> str:
        lines = (self.workdir / "broker.log").read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])


def random_cluster_id() -> str:
    """A KRaft cluster id (22 characters of URL-safe base64), not starting with a dash
    (the storage tool would take it for an option)."""
    import base64
    import uuid

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cluster_id[0].isalnum():
            return cluster_id


def make_tls_files(folder: Path) -> tuple[Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it, made with openssl:
    returns (ca.pem, server.pem with the PKCS#8 key and the certificate)."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=groundswell test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    )
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.p8")
    bundle = folder / "server.pem"
    bundle.write_text((folder / "server.p8").read_text() + (folder / "server.crt").read_text())
    return folder / "ca.pem", bundle
