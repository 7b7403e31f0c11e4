"""The local Apache Kafka broker: KRaft combined mode (broker + controller in one JVM).

Layout of a data dir::

    <data-dir>/server.properties   written on every start from the settings
    <data-dir>/log4j2.properties
    <data-dir>/kraft/              log.dirs: formatted once, cluster id kept
    <data-dir>/broker.log          the JVM's output (`eventlake broker logs`)
    <data-dir>/broker.json         pid, ports and version of the running broker
    <data-dir>/tls/                the CA and broker certificate of an exposed broker (broker/certs.py)

Everything in it is private to the user running the broker: the folder is mode 700, the
files eventlake writes 600, and Kafka runs with umask 077 so its segments are too. A data
dir made by an older version is tightened on start.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from eventlake.broker import certs
from eventlake.broker.clients import check_reachable
from eventlake.broker.credentials import check_password, check_username, shown
from eventlake.broker.exceptions import BrokerError, BrokerUnreachable, CredentialsRefused, PortInUse
from eventlake.broker.jars import resolve_jars
from eventlake.broker.javaconf import dump_properties, load_properties
from eventlake.broker.live_config import reload_keystore, upsert_scram_user
from eventlake.broker.private_files import PRIVATE_DIR, PRIVATE_FILE, make_private, write_private
from eventlake.config.broker import BrokerSettings, is_loopback
from eventlake.runtime.java import find_java

CHILD_UMASK = 0o077
NODE_ID = "1"
SESSION_TIMEOUT_MS = 5000  # a cluster's broker.session.timeout.ms (see _replication)
HEARTBEAT_MS = 1000  # a cluster's broker.heartbeat.interval.ms
QUORUM_FETCH_TIMEOUT_MS = 1000  # a cluster's controller.quorum.fetch.timeout.ms
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
TLS_PROTOCOLS = "TLSv1.2,TLSv1.3"

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
        return f"{_local_address(self.host)}:{self.local_port}"


@dataclass(frozen=True)
class ClusterRole:
    """What makes a LocalBroker one node of a local cluster: its id, the voters, the shared id and CA."""

    node_id: int
    nodes: int
    voters: str  # controller.quorum.voters: "1@127.0.0.1:C1,2@127.0.0.1:C2,..."
    cluster_id: str  # every node is formatted with the same one
    tls_dir: Path  # one CA and certificate for every node

    @property
    def replication_factor(self) -> int:
        return min(3, self.nodes)

    @property
    def min_insync(self) -> int:
        # One replica may fail and acks=all writes still succeed; two may not (nothing is
        # acknowledged that lives on one disk only).
        return max(1, self.replication_factor - 1)


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    data_dir: str
    bootstrap: str | None = None
    pid: int | None = None
    version: str | None = None
    uptime_s: float | None = None
    reason: str | None = None
    certificate: dict[str, object] | None = None  # subject, names and expiry of an exposed broker's


class LocalBroker:
    """Start, stop and inspect the broker whose data lives in `settings.data_dir`."""

    def __init__(self, settings: BrokerSettings, role: ClusterRole | None = None) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        # A node of a local cluster (broker/cluster.py); None: the single-node broker.
        self.role = role
        # The JVM this object started, kept so stop() can reap it in this process. `broker start`
        # exits and leaves the broker running by design; stop() then works from its pid file.
        self._process: subprocess.Popen[bytes] | None = None

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
    def tls(self) -> certs.TlsFiles:
        return certs.TlsFiles(self.role.tls_dir if self.role is not None else self.data_dir / "tls")

    @property
    def node_id(self) -> str:
        return str(self.role.node_id) if self.role is not None else NODE_ID

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
        if self.settings.exposed:
            return f"127.0.0.1:{self.internal_port}"
        return f"{_local_address(self.settings.host)}:{self.settings.port}"

    # lifecycle
    def check_settings(self, *, credentials: bool = True) -> None:
        """Refuse settings that cannot be written for Kafka safely, or would expose it weakly.

        Every value that reaches `server.properties` is escaped anyway; these are allow-lists
        for what Kafka itself splits (listeners, log.dirs) and for the credentials.
        """
        s = self.settings
        _check_address("--host", s.host, allow_any=True)
        if s.advertise:  # empty: not set, as in `advertise`
            _check_address("--advertise", s.advertise, allow_any=False)
        if "," in str(self.data_dir):  # log.dirs and log4j2.configurationFile are comma-separated lists
            raise BrokerError(
                f"the broker data dir {shown(str(self.data_dir))} contains a comma",
                hint="Kafka would read it as two folders; choose a path without one",
            )
        if not s.exposed:
            return
        self.certificate_names()
        own = [s.tls_cert, s.tls_key, s.tls_ca]
        if any(own) and not all(own):
            raise certs.CertificateError(
                "a certificate of your own needs all three of broker.tls_cert, tls_key and tls_ca",
                hint="set all three, or none to let eventlake make a private CA and certificate",
            )
        if s.tls_cert and s.tls_key and s.tls_ca:
            certs.check_own(s.tls_cert, s.tls_key, s.tls_ca, self.advertise)
        if not credentials:
            return
        if s.sasl_password is None:
            raise CredentialsRefused(
                f"binding {s.host} would expose Kafka beyond this machine without credentials",
                hint="set a password in EVENTLAKE_BROKER__SASL_PASSWORD (clients then use SCRAM-SHA-512 over "
                "TLS; make one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`), "
                "or keep the default --host 127.0.0.1",
            )
        check_username(s.sasl_username)
        check_password(s.sasl_password.get_secret_value(), host=s.host)

    def certificate_names(self, extra: list[str] | None = None) -> list[str]:
        """The broker certificate's names: advertise, host, broker.tls_sans, then `extra` (allow-listed)."""
        s = self.settings
        return certs.broker_names(self.advertise, s.host, [*s.tls_sans, *(extra or [])])

    def ensure_certificate(
        self, extra: list[str] | None = None, *, days: int = certs.DEFAULT_DAYS, renew: bool = False
    ) -> tuple[certs.CertInfo, bool]:
        """Make (or check and copy in your own) the broker certificate; return it and whether it is new."""
        s = self.settings
        if s.tls_cert and s.tls_key and s.tls_ca:
            before = self.tls.info()
            info = certs.install_own(self.tls, s.tls_cert, s.tls_key, s.tls_ca, self.advertise)
            return info, before is None or before.serial != info.serial
        return certs.ensure_certificate(self.tls, self.certificate_names(extra), days=days, renew=renew)

    def rotate_certificate(
        self, extra: list[str] | None = None, *, days: int = certs.DEFAULT_DAYS, renew: bool = True
    ) -> tuple[certs.CertInfo, bool]:
        """Write a new certificate (same CA and names) and, if the broker runs, make it serve it now.

        Kafka refuses a new certificate whose subject or names differ from the running one's:
        the names stay those of the current certificate unless new ones are asked for.
        """
        self.check_settings(credentials=False)  # certificates need no password
        self._secure_data_dir()
        current = self.tls.info()
        state = self.running_state()
        if current is not None and state is not None and not (self.settings.tls_cert or extra):
            names = list(current.sans)
            if current.subject.startswith("CN=") and current.subject[3:] in names:
                names.remove(current.subject[3:])
                names.insert(0, current.subject[3:])
            info, changed = certs.ensure_certificate(self.tls, names, days=days, renew=renew)
        else:
            info, changed = self.ensure_certificate(extra, days=days, renew=renew)
        if changed and state is not None and self.settings.exposed:
            reload_keystore(state.local_bootstrap, self.node_id, str(self.tls.keystore))
        return info, changed

    def start(self) -> tuple[BrokerState, bool]:
        """Start the broker and wait until it answers; return (state, started_now)."""
        running = self.running_state()
        if running is not None:
            return running, False
        self._reap()  # a JVM this object started earlier and that died (killed): collect it first
        self.check_ports()
        state = self.launch()
        self.wait_ready(state)
        if self.settings.exposed:
            try:
                self.set_admin_credential(state)
            except BrokerError:
                self.stop()
                raise
        return state, True

    def check_ports(self) -> None:
        """Refuse to start where another process already listens (one line naming the port)."""
        self._reap()
        self.check_settings()
        ports = [self.settings.port, self.controller_port]
        if self.settings.exposed:
            ports.append(self.internal_port)
        for port in ports:
            _ensure_port_free(self.settings.host if port == self.settings.port else "127.0.0.1", port)

    def launch(self) -> BrokerState:
        """Write the configs, format once, and start the JVM; return without waiting for it to answer."""
        self._reap()  # a JVM this object started earlier and that died (killed): collect it first
        self.check_settings()
        base = self.prepare()
        log = self._open_log()
        try:
            proc = subprocess.Popen(
                [*base, "kafka.Kafka", str(self.data_dir / "server.properties")],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in the user's shell must not kill it mid-write
                umask=CHILD_UMASK,  # segments, checkpoints and snapshots: owner only
            )
        finally:
            os.close(log)
        state = BrokerState(
            pid=proc.pid,
            port=self.settings.port,
            controller_port=self.controller_port,
            host=self.settings.host,
            advertise=self.advertise,
            version=self.settings.kafka_version,
            started_at=time.time(),
            local_port=int(self.local_bootstrap.rsplit(":", 1)[1]),
        )
        self._process = proc
        write_private(self.state_file, json.dumps(asdict(state)))
        return state

    def set_admin_credential(self, state: BrokerState) -> None:
        # Every start, so a changed password takes effect; on loopback, never on a command line.
        upsert_scram_user(state.local_bootstrap, self.settings.sasl_username, self._password())

    def kill(self) -> bool:
        """SIGKILL the JVM at once, as a crash would (failure drills). Return False if nothing ran."""
        state = self.running_state()
        if state is None:
            self.state_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGKILL)
        if self._process is not None and self._process.pid == state.pid:
            self._process.wait()
            self._process = None
        while _alive(state.pid):
            time.sleep(0.05)
        self.state_file.unlink(missing_ok=True)
        return True

    def prepare(self) -> list[str]:
        """Everything before the JVM starts; return the java command line's common part.

        Checks the settings, makes the data dir private, writes the configs, and formats the
        KRaft storage the first time.
        """
        self.check_settings()
        java = find_java()
        libs = resolve_jars(self.settings.kafka_version, self.settings.cache_dir).resolve()
        if os.pathsep in str(libs):
            raise BrokerError(
                f"the jar folder {shown(str(libs))} contains {os.pathsep!r}",
                hint="Java would split the class path there; set broker.cache_dir elsewhere",
            )
        self._secure_data_dir()
        if self.settings.exposed:
            self.ensure_certificate()
        self._write_configs()
        base = [
            str(java.executable),
            f"-Xms{self.settings.heap}",
            f"-Xmx{self.settings.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            # A crash report holds heap contents (the password): keep it in the private data dir.
            f"-XX:ErrorFile={self.data_dir / 'hs_err_pid%p.log'}",
            "-cp",
            f"{libs}/*",
        ]
        if not (self.log_dirs / "meta.properties").is_file():
            self._format(base)
        return base

    def _format(self, base: list[str]) -> None:
        cluster_id = self.role.cluster_id if self.role is not None else new_cluster_id()
        proc = subprocess.run(
            [
                *base,
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                cluster_id,
                "--config",
                str(self.data_dir / "server.properties"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.data_dir,
            umask=CHILD_UMASK,
        )
        output = (proc.stdout + proc.stderr).strip()
        log = self._open_log()
        try:
            os.write(log, f"kafka.tools.StorageTool format (exit {proc.returncode}):\n{output}\n".encode())
        finally:
            os.close(log)
        if proc.returncode != 0:
            tail = output.splitlines()[-1:] or ["no output"]
            leftover = self.log_dirs.is_dir() and any(self.log_dirs.iterdir())
            hint = (
                f"{self.log_dirs} holds data from another cluster or an interrupted start: move it away to start afresh"
                if leftover
                else f"the full output is in {self.log_file}"
            )
            raise BrokerError(f"formatting KRaft storage failed: {tail[0][:300]}", hint=hint)

    def _secure_data_dir(self) -> None:
        """Create the data dir private to this user, and tighten what an older version left open.

        Only what the broker owns is walked (its files and `kraft/`), never a whole folder
        a user may have pointed --data-dir at by mistake.
        """
        self.data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self.data_dir.chmod(PRIVATE_DIR)
        owned = [self.data_dir / n for n in ("server.properties", "log4j2.properties", "broker.log", "broker.json")]
        owned += sorted(self.data_dir.glob("hs_err_pid*.log"))
        for path in owned:
            make_private(path)
        for folder in (self.log_dirs, self.tls.folder):
            if folder.is_dir():
                for root, dirs, files in os.walk(folder):
                    make_private(Path(root))
                    for name in [*dirs, *files]:
                        make_private(Path(root) / name)

    def _open_log(self) -> int:
        """The broker log, opened for appending, readable by its owner only."""
        fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
        os.fchmod(fd, PRIVATE_FILE)
        return fd

    def wait_ready(self, state: BrokerState, deadline: float | None = None) -> None:
        """Wait until the JVM `launch` started answers; stop it and raise if it exits or stays silent."""
        proc = self._process
        assert proc is not None, "wait_ready() follows launch()"
        deadline = deadline if deadline is not None else time.monotonic() + self.settings.start_timeout_s
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
        try:
            return self._stop()
        finally:
            self._reap()

    def _reap(self) -> None:
        """Wait until a JVM this object started has exited for good, and collect its status.

        /proc shows the JVM's first thread as a zombie while its other threads still shut down,
        so _alive() can call it gone early; waiting here means its ports and files are free.
        """
        proc, self._process = self._process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # usually asked already by _stop(); a second SIGTERM changes nothing
        try:
            proc.wait(timeout=self.settings.stop_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _stop(self) -> bool:
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
                running=False,
                data_dir=str(self.data_dir),
                bootstrap=state.bootstrap,
                pid=state.pid,
                version=state.version,
                reason="process alive but not answering",
            )
        info = self.tls.info() if not is_loopback(state.host) else None
        return BrokerStatus(
            running=True,
            data_dir=str(self.data_dir),
            bootstrap=state.bootstrap,
            pid=state.pid,
            version=state.version,
            uptime_s=time.time() - state.started_at,
            certificate=info.as_dict() if info is not None else None,
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

    def server_properties(self) -> dict[str, str]:
        """The broker's configuration, key by key, exactly as Kafka must read it back."""
        self.check_settings()
        s = self.settings
        props = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": self.role.voters if self.role else f"1@127.0.0.1:{self.controller_port}",
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
            **self._authorizer(),
        }
        if self.role is not None:
            props.update(self._replication(self.role))
        return props

    @staticmethod
    def _replication(role: ClusterRole) -> dict[str, str]:
        """A cluster's defaults: every record on three nodes, acknowledged once two have it.

        With min.insync.replicas 2 an acks=all write fails (NOT_ENOUGH_REPLICAS) rather than
        live on one disk; without unclean leader election a lagging replica never becomes leader
        and drops what the others acknowledged.
        """
        rf, isr = str(role.replication_factor), str(role.min_insync)
        return {
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            "unclean.leader.election.enable": "false",
            # How long the controllers wait for a silent (crashed) node's heartbeats before they fence
            # it and move its partitions' leadership: the pause writers see after a crash. Kafka's 9 s
            # plus a controller election (combined nodes) took 13 s in the bench, 6 s still 10.5 s;
            # 5 s with a heartbeat every second keeps it under 10 s, and five missed heartbeats still
            # ride out a long GC pause on a loaded laptop.
            "broker.heartbeat.interval.ms": str(HEARTBEAT_MS),
            "broker.session.timeout.ms": str(SESSION_TIMEOUT_MS),
            # When the crashed node was also the active controller, the others first notice the
            # silent quorum leader (this fetch time-out, Kafka's default 2 s), elect a new one, and
            # only then start the session clock above: 1 s takes a second off that pause.
            "controller.quorum.fetch.timeout.ms": str(QUORUM_FETCH_TIMEOUT_MS),
        }

    def _authorizer(self) -> dict[str, str]:
        """Kafka's ACLs, always on, so `eventlake acl` works the same on every broker.

        Loopback principals (the plaintext listener for local tools, the broker's own INTERNAL
        and CONTROLLER traffic) are User:ANONYMOUS: the local admin and the broker itself, the
        only super users besides the configured admin. A broker reachable from other machines
        denies what no ACL allows; a loopback-only one allows it, as Kafka does without ACLs.
        """
        s = self.settings
        supers = ["User:ANONYMOUS"]
        if s.exposed:
            supers.append(f"User:{check_username(s.sasl_username)}")
        return {
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": ";".join(supers),
            "allow.everyone.if.no.acl.found": "false" if s.exposed else "true",
        }

    def server_properties_text(self) -> str:
        """`server.properties` as written: escaped, then read back the way Java reads it.

        The read-back is a guard, not a formality: if any value (a path, a host) would reach
        Kafka as anything but itself, or add a key, nothing is written. No password is in it:
        SCRAM credentials live in Kafka's metadata log (see `start`).
        """
        props = self.server_properties()
        text = dump_properties(props)
        pairs = load_properties(text.encode("ascii"))
        if pairs != list(props.items()):
            raise BrokerError(
                "server.properties would not read back as written", hint="report this as a bug in eventlake"
            )
        return text

    def _password(self) -> str:
        assert self.settings.sasl_password is not None
        return self.settings.sasl_password.get_secret_value()

    def _write_configs(self) -> None:
        # Readable by its owner only, like everything here (it names the key file's path).
        write_private(self.data_dir / "server.properties", self.server_properties_text())
        write_private(self.data_dir / "log4j2.properties", _LOG4J)

    def _listeners(self) -> dict[str, str]:
        """Loopback only: one plaintext listener. Exposed: SCRAM over TLS outside, plaintext on loopback.

        The controller listener stays on loopback whatever the client listener binds to. The
        server side of SCRAM needs no user table (credentials are in the metadata log) and no
        truststore (clients are not asked for certificates); Kafka reads the PEM key and chain
        directly, so no keystore password exists to be kept anywhere.
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
        ext = "listener.name.external."
        return {
            "listeners": f"EXTERNAL://{s.host}:{s.port},INTERNAL://127.0.0.1:{self.internal_port},{controller}",
            "advertised.listeners": f"EXTERNAL://{self.advertise}:{s.port},INTERNAL://127.0.0.1:{self.internal_port}",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": "EXTERNAL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"{ext}sasl.enabled.mechanisms": "SCRAM-SHA-512",
            f"{ext}scram-sha-512.sasl.jaas.config": f"{SCRAM_LOGIN_MODULE} required;",
            f"{ext}ssl.enabled.protocols": TLS_PROTOCOLS,
            f"{ext}ssl.protocol": "TLSv1.3",
            f"{ext}ssl.client.auth": "none",
            f"{ext}ssl.keystore.type": "PEM",
            f"{ext}ssl.keystore.location": str(self.tls.keystore),
            f"{ext}ssl.truststore.type": "PEM",
            f"{ext}ssl.truststore.location": str(self.tls.ca),
        }


def new_cluster_id() -> str:
    """A KRaft cluster id made as Kafka's `Uuid.randomUuid()` makes one.

    A random (version 4) UUID as 22 characters of unpadded base64url; Kafka re-rolls an id
    whose text starts with '-' (its command-line tools would read it as an option) and the
    reserved all-zero and one values. About one id in 64 starts with '-'.
    """
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        if not text.startswith("-") and raw not in _RESERVED_UUIDS:
            return text


_RESERVED_UUIDS = frozenset({bytes(16), (1).to_bytes(16, "big")})

# RFC 1123 labels, plus '_' (container and compose service names use it; Kafka accepts it).
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)


def _check_address(option: str, value: str, *, allow_any: bool) -> None:
    """An IP address or an RFC 1123 host name: nothing Kafka's listener lists could split."""
    if value == "" and allow_any:
        return
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    if _HOSTNAME.fullmatch(value) is None:
        raise BrokerError(
            f"{option} {shown(value)} is not a host name or an IP address",
            hint="use a name like kafka.example.internal or an address like 10.0.0.5",
        )


def _local_address(host: str) -> str:
    """The address a loopback-only listener bound to `host` answers on (127.0.0.5 is not 127.0.0.1)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"  # "localhost", or an exposed broker's INTERNAL listener
    if not ip.is_loopback:
        return "127.0.0.1"
    return f"[{ip}]" if ip.version == 6 else str(ip)


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
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # "::1" and "::" are IPv6 binds
    sock = socket.socket(family, socket.SOCK_STREAM)
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
