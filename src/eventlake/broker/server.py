"""The local Apache Kafka broker: KRaft combined mode (broker + controller in one JVM).

Layout of a data dir::

    <data-dir>/server.properties   written on every start from the settings
    <data-dir>/log4j2.properties
    <data-dir>/kraft/              log.dirs: formatted once, cluster id kept
    <data-dir>/broker.log          the JVM's output (`eventlake broker logs`)
    <data-dir>/broker.json         pid, ports and version of the running broker
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from eventlake.broker.clients import check_reachable
from eventlake.broker.exceptions import BrokerError, BrokerUnreachable, PortInUse
from eventlake.broker.jars import resolve_jars
from eventlake.broker.java import find_java
from eventlake.broker.settings import BrokerSettings

_LOG4J = """status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


@dataclass(frozen=True)
class BrokerState:
    pid: int
    port: int
    controller_port: int
    host: str
    advertise: str
    version: str
    started_at: float
    local_port: int  # plaintext listener on 127.0.0.1 for local tools and readiness checks

    @property
    def bootstrap(self) -> str:
        return f"{self.advertise}:{self.port}"

    @property
    def local_bootstrap(self) -> str:
        return f"127.0.0.1:{self.local_port}"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    data_dir: str
    bootstrap: str | None = None
    pid: int | None = None
    version: str | None = None
    uptime_s: float | None = None
    reason: str | None = None


class LocalBroker:
    """Start, stop and inspect the broker whose data lives in `settings.data_dir`."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()

    # paths
    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "broker.json"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft"

    @property
    def controller_port(self) -> int:
        return self.settings.controller_port or self.settings.port + 1

    @property
    def internal_port(self) -> int:
        return self.settings.internal_port or self.settings.port + 2

    @property
    def advertise(self) -> str:
        s = self.settings
        if s.advertise:
            return s.advertise
        return socket.getfqdn() if s.host in ("0.0.0.0", "::", "") else s.host

    @property
    def bootstrap(self) -> str:
        return f"{self.advertise}:{self.settings.port}"

    @property
    def local_bootstrap(self) -> str:
        """Where tools on this machine reach the broker without credentials."""
        port = self.internal_port if self.settings.exposed else self.settings.port
        return f"127.0.0.1:{port}"

    # lifecycle
    def start(self) -> tuple[BrokerState, bool]:
        """Start the broker and wait until it answers; return (state, started_now)."""
        running = self.running_state()
        if running is not None:
            return running, False
        if self.settings.exposed and self.settings.sasl_password is None:
            raise BrokerError(
                f"binding {self.settings.host} would expose Kafka beyond this machine without credentials",
                hint="set a password in EVENTLAKE_BROKER__SASL_PASSWORD (clients then use SASL/PLAIN), "
                     "or keep the default --host 127.0.0.1",
            )
        ports = [self.settings.port, self.controller_port]
        if self.settings.exposed:
            ports.append(self.internal_port)
        for port in ports:
            _ensure_port_free(self.settings.host if port == self.settings.port else "127.0.0.1", port)
        java = find_java()
        libs = resolve_jars(self.settings.kafka_version, self.settings.cache_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_configs()
        classpath = f"{libs}/*"
        base = [
            str(java.executable), f"-Xms{self.settings.heap}", f"-Xmx{self.settings.heap}",
            "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp", classpath,
        ]
        if not (self.log_dirs / "meta.properties").is_file():
            self._format(base)
        log = self.log_file.open("ab")
        proc = subprocess.Popen(
            [*base, "kafka.Kafka", str(self.data_dir / "server.properties")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the user's shell must not kill it mid-write
        )
        log.close()
        state = BrokerState(
            pid=proc.pid, port=self.settings.port, controller_port=self.controller_port,
            host=self.settings.host, advertise=self.advertise,
            version=self.settings.kafka_version, started_at=time.time(),
            local_port=int(self.local_bootstrap.rsplit(":", 1)[1]),
        )
        self.state_file.write_text(json.dumps(asdict(state)))
        self._wait_ready(proc, state)
        return state, True

    def _format(self, base: list[str]) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        proc = subprocess.run(
            [*base, "kafka.tools.StorageTool", "format", "-t", cluster_id,
             "-c", str(self.data_dir / "server.properties")],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
            raise BrokerError(f"formatting KRaft storage failed: {tail[0]}",
                              hint=f"remove {self.log_dirs} if it is left over from another cluster")

    def _wait_ready(self, proc: subprocess.Popen[bytes], state: BrokerState) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.state_file.unlink(missing_ok=True)
                raise BrokerError(
                    f"the broker exited during start-up (code {proc.returncode}): {self._last_error()}",
                    hint=f"see {self.log_file}",
                )
            try:
                check_reachable(state.local_bootstrap, timeout_s=1.0)
                return
            except BrokerUnreachable:
                time.sleep(0.3)
        self.stop()
        raise BrokerError(
            f"the broker did not answer within {self.settings.start_timeout_s:.0f}s",
            hint=f"see {self.log_file}",
        )

    def _last_error(self) -> str:
        lines = self.logs(200).splitlines()
        for line in reversed(lines):
            if " ERROR " in line or "Exception" in line:
                return line.strip()[:300]
        return lines[-1].strip()[:300] if lines else "no output"

    def stop(self) -> bool:
        """Stop gracefully (SIGTERM, wait, then SIGKILL). Return False if nothing ran."""
        state = self._read_state()
        if state is None or not _alive(state.pid):
            self.state_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_timeout_s
        while time.monotonic() < deadline and _alive(state.pid):
            time.sleep(0.2)
        if _alive(state.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGKILL)
            while _alive(state.pid):
                time.sleep(0.1)
        self.state_file.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        state = self.running_state()
        if state is None:
            return BrokerStatus(running=False, data_dir=str(self.data_dir), reason="not running")
        try:
            check_reachable(state.local_bootstrap, timeout_s=3.0)
        except BrokerUnreachable:
            return BrokerStatus(
                running=False, data_dir=str(self.data_dir), bootstrap=state.bootstrap, pid=state.pid,
                version=state.version, reason="process alive but not answering",
            )
        return BrokerStatus(
            running=True, data_dir=str(self.data_dir), bootstrap=state.bootstrap, pid=state.pid,
            version=state.version, uptime_s=time.time() - state.started_at,
        )

    def logs(self, lines: int = 100) -> str:
        if not self.log_file.is_file():
            return ""
        with self.log_file.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            tail = fh.read().decode("utf-8", "replace").splitlines()
        return "\n".join(tail[-lines:])

    def running_state(self) -> BrokerState | None:
        state = self._read_state()
        if state is not None and _alive(state.pid):
            return state
        return None

    def _read_state(self) -> BrokerState | None:
        try:
            return BrokerState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _write_configs(self) -> None:
        s = self.settings
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            **self._listeners(),
            "log.dirs": str(self.log_dirs),
            "num.partitions": str(s.default_partitions),
            # One node: internal topics cannot have more than one replica.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Topics are created on purpose, with the partitions the user chose.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.ms": str(s.log_retention_ms),
            "log.retention.bytes": str(s.log_retention_bytes),
            "log.segment.bytes": str(s.log_segment_bytes),
            # Check retention often so small test and demo topics shrink visibly.
            "log.retention.check.interval.ms": "5000",
            "log.segment.delete.delay.ms": "1000",
        }
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        path = self.data_dir / "server.properties"
        # It may hold the SASL password: readable by its owner only.
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(text)
        (self.data_dir / "log4j2.properties").write_text(_LOG4J)


    def _listeners(self) -> dict[str, str]:
        """Loopback only: one plaintext listener. Exposed: SASL/PLAIN outside, plaintext on loopback.

        The controller listener stays on loopback whatever the client listener binds to.
        """
        s = self.settings
        controller = f"CONTROLLER://127.0.0.1:{self.controller_port}"
        if not s.exposed:
            return {
                "listeners": f"PLAINTEXT://{s.host}:{s.port},{controller}",
                "advertised.listeners": f"PLAINTEXT://{self.advertise}:{s.port}",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            }
        assert s.sasl_password is not None
        user, password = s.sasl_username, s.sasl_password.get_secret_value()
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{password}" user_{user}="{password}";'
        )
        return {
            "listeners": f"EXTERNAL://{s.host}:{s.port},INTERNAL://127.0.0.1:{self.internal_port},{controller}",
            "advertised.listeners": f"EXTERNAL://{self.advertise}:{s.port},INTERNAL://127.0.0.1:{self.internal_port}",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": "EXTERNAL:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "listener.name.external.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.external.plain.sasl.jaas.config": jaas,
        }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (ours, not yet reaped) is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _ensure_port_free(host: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Like Kafka itself: connections in TIME_WAIT must not count as "in use".
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host if host not in ("", "0.0.0.0") else "0.0.0.0", port))
    except OSError as exc:
        raise PortInUse(
            f"port {port} on {host} is already in use by another process",
            hint="stop that process or choose another port with --port",
        ) from exc
    finally:
        sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
