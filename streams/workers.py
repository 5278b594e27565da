"""Worker processes started by the demo, the benchmarks and the integration tests.

A worker is a real ``groundswell worker`` in its own process group, configured through
``GROUNDSWELL_*`` variables built from a :class:`~streams.settings.Settings`, so what runs
is exactly what an operator runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import IO

from streams.settings import Settings, env_name


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``GROUNDSWELL_*`` variables that rebuild ``settings`` in another process.

    >>> settings_env(Settings(window_s=60))["GROUNDSWELL_WINDOW_S"]
    '60'
    """
    return {env_name(f.name): str(getattr(settings, f.name)) for f in fields(Settings)}


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


WORKER = ("streams.cli", "worker")


class WorkerProcess:
    """A ``groundswell worker`` process writing its output to ``log``; unless metrics are
    off (port 0), it serves them on a free port of its own, so workers can run side by
    side (``metrics_url``). ``entry`` is the module run and its arguments (the benchmark
    also runs :mod:`streams.bare_faust` this way)."""

    def __init__(
        self,
        settings: Settings,
        log: Path,
        extra_env: Mapping[str, str] | None = None,
        entry: Sequence[str] = WORKER,
    ) -> None:
        if settings.metrics_port:
            settings = settings.with_overrides(metrics_port=free_port())
        self.settings = settings
        self.metrics_url = f"http://{settings.metrics_addr}:{settings.metrics_port}/metrics"
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")
        } | settings_env(settings)
        env.update(extra_env or {})
        self.log = log
        self._fh: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *entry],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        """Signal the process group, wait, and SIGKILL it if it does not end in time."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._fh.close()

    def pause(self) -> None:
        """Stop the process group where it is (SIGSTOP) until :meth:`resume`; the worker
        stays in its consumer group while the pause is shorter than its session timeout."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory of the worker so far (Linux ``VmHWM``), in MiB."""
        return self._status_mb("VmHWM:")

    def rss_mb(self) -> float | None:
        """Resident memory of the worker now (Linux ``VmRSS``), in MiB."""
        return self._status_mb("VmRSS:")

    def cpu_seconds(self) -> float | None:
        """User and system CPU time of the worker so far (Linux ``/proc/PID/stat``)."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _status_mb(self, field: str) -> float | None:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
        return None

    def tail_log(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
