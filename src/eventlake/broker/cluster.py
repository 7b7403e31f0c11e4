"""A local KRaft cluster: N nodes on this machine, each broker and controller, all of them voters.

Layout of a cluster's data dir (a single-node broker keeps server.py's layout unchanged)::

    <data-dir>/cluster.json    node count, port layout and cluster id, fixed at the first start
    <data-dir>/tls/            one CA and one certificate (the same names) for every node, when exposed
    <data-dir>/node-N/         node N's data dir, laid out as a single broker's (server.py)

Ports, from the client port P (`--port`) and N nodes; node k (1..N) listens on:

    client       P + k-1                       (PLAINTEXT on loopback, SASL_SSL when exposed)
    controller   (controller_port or P+N) + k-1  always 127.0.0.1
    internal     (internal_port or P+2N) + k-1   127.0.0.1 plaintext for local tools, exposed only

All nodes are formatted with one cluster id and the static voter set
`controller.quorum.voters` (1@127.0.0.1:C, 2@...:C+1, ...), so the quorum needs no
bootstrapping step and survives any minority of nodes being down.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException

from eventlake.broker import certs
from eventlake.broker.clients import admin_client, check_reachable
from eventlake.broker.exceptions import BrokerError, BrokerUnreachable
from eventlake.broker.live_config import reload_keystore
from eventlake.broker.private_files import PRIVATE_DIR, make_private, write_private
from eventlake.broker.quorum import Quorum, describe_quorum
from eventlake.broker.server import BrokerState, ClusterRole, LocalBroker, new_cluster_id
from eventlake.config.broker import BrokerSettings, is_loopback

CLUSTER_FILE = "cluster.json"
MAX_NODES = 9
_CLUSTER_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_LOG4J_QUIET = "status = error\nrootLogger.level = ERROR\n"


@dataclass(frozen=True)
class ClusterLayout:
    """What fixes a cluster at its first start: every later start must use the same."""

    nodes: int
    port: int
    controller_port: int
    internal_port: int
    cluster_id: str

    @classmethod
    def new(cls, settings: BrokerSettings, nodes: int) -> ClusterLayout:
        p = settings.port
        layout = cls(
            nodes=nodes,
            port=p,
            controller_port=settings.controller_port or p + nodes,
            internal_port=settings.internal_port or p + 2 * nodes,
            cluster_id=new_cluster_id(),
        )
        layout.check()
        return layout

    def check(self) -> None:
        if not 2 <= self.nodes <= MAX_NODES:
            raise BrokerError(f"a local cluster has 2 to {MAX_NODES} nodes, not {self.nodes}", hint="pass --nodes 3")
        ranges = {
            "client": self.port,
            "controller": self.controller_port,
            "internal": self.internal_port,
        }
        for name, first in ranges.items():
            if first < 1 or first + self.nodes - 1 > 65535:
                raise BrokerError(
                    f"the {name} ports {first}..{first + self.nodes - 1} of a {self.nodes}-node cluster run past 65535",
                    hint="choose a lower --port",
                )
        spans = sorted((first, name) for name, first in ranges.items())
        for (a, name_a), (b, name_b) in itertools.pairwise(spans):
            if b < a + self.nodes:
                raise BrokerError(
                    f"the {name_a} ports {a}..{a + self.nodes - 1} overlap the {name_b} ports from {b}",
                    hint="leave broker.controller_port and broker.internal_port unset, or space them "
                    f"{self.nodes} apart",
                )

    def client_port(self, node_id: int) -> int:
        return self.port + node_id - 1

    def voters(self) -> str:
        return ",".join(f"{k}@127.0.0.1:{self.controller_port + k - 1}" for k in range(1, self.nodes + 1))

    def controllers(self) -> str:
        return ",".join(f"127.0.0.1:{self.controller_port + k - 1}" for k in range(1, self.nodes + 1))

    @classmethod
    def load(cls, path: Path) -> ClusterLayout | None:
        """The layout in `path`, checked field by field; None when there is no file."""
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BrokerError(
                f"{path} is unreadable: {exc}", hint="restore it, or move the data dir away to start afresh"
            ) from None
        fields = ("nodes", "port", "controller_port", "internal_port")
        if (
            not isinstance(raw, dict)
            or not all(isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool) for k in fields)
            or not isinstance(raw.get("cluster_id"), str)
            or _CLUSTER_ID.fullmatch(raw["cluster_id"]) is None
        ):
            raise BrokerError(
                f"{path} is not a cluster file eventlake wrote",
                hint="restore it, or move the data dir away to start afresh",
            )
        layout = cls(**{k: raw[k] for k in (*fields, "cluster_id")})
        layout.check()
        return layout

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2) + "\n")


def stored_nodes(data_dir: Path) -> int | None:
    """How many nodes the data dir was started with; None for a fresh (or empty) one."""
    layout = ClusterLayout.load(data_dir / CLUSTER_FILE)
    if layout is not None:
        return layout.nodes
    if (data_dir / "kraft" / "meta.properties").is_file() or (data_dir / "broker.json").is_file():
        return 1
    return None


def open_local(settings: BrokerSettings) -> LocalBroker | LocalCluster:
    """The local broker or cluster of `settings.data_dir`, checked against `settings.nodes`.

    The data dir decides when --nodes is not given; a --nodes that differs from it is refused,
    since the voters (and the data on each node) cannot change by a restart.
    """
    data_dir = Path(settings.data_dir).resolve()
    stored = stored_nodes(data_dir)
    wanted = settings.nodes
    if stored is not None and wanted is not None and wanted != stored:
        what = "a single-node broker" if stored == 1 else f"a {stored}-node cluster"
        raise BrokerError(
            f"the data dir {data_dir} holds {what}, not {wanted} node{'s' if wanted > 1 else ''}",
            hint=f"start it with --nodes {stored} (or without --nodes), or use another --data-dir "
            f"for {wanted} node{'s' if wanted > 1 else ''}",
        )
    nodes = stored or wanted or 1
    if nodes == 1:
        return LocalBroker(settings)
    return LocalCluster(settings, nodes)


@dataclass(frozen=True)
class ClusterState:
    """The running nodes of a cluster, shaped like BrokerState where callers need it (bootstrap, pid)."""

    nodes: dict[int, BrokerState]
    bootstrap: str
    version: str

    @property
    def pid(self) -> int:
        return next(iter(self.nodes.values())).pid

    @property
    def advertise(self) -> str:
        return next(iter(self.nodes.values())).advertise

    @property
    def host(self) -> str:
        return next(iter(self.nodes.values())).host


@dataclass(frozen=True)
class NodeStatus:
    node_id: int
    state: str  # up, down, starting (alive, not answering yet)
    pid: int | None
    port: int
    controller_port: int
    internal_port: int | None
    uptime_s: float | None = None

    @property
    def up(self) -> bool:
        return self.state == "up"


@dataclass(frozen=True)
class ClusterStatus:
    running: bool  # a majority of the voters answer: the cluster serves
    data_dir: str
    bootstrap: str
    version: str
    nodes: list[NodeStatus]
    quorum: Quorum | None = None
    partitions: dict[str, int] | None = None  # total, under_replicated, offline (topic partitions)
    certificate: dict[str, object] | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "data_dir": self.data_dir,
            "bootstrap": self.bootstrap,
            "version": self.version,
            "nodes": [{**asdict(n), "up": n.up} for n in self.nodes],
            "quorum": self.quorum.as_dict() if self.quorum is not None else None,
            "partitions": self.partitions,
            "certificate": self.certificate,
            "reason": self.reason,
        }


@dataclass
class StartReport:
    state: ClusterState
    started: list[int] = field(default_factory=list)  # node ids started now
    waiting: list[int] = field(default_factory=list)  # started, but no quorum yet to serve


class LocalCluster:
    """Start, stop, kill and inspect the nodes of the cluster whose data lives in `settings.data_dir`."""

    def __init__(self, settings: BrokerSettings, nodes: int) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        self.layout = ClusterLayout.load(self.state_file) or ClusterLayout.new(settings, nodes)
        self.members = {k: self._member(k) for k in range(1, self.layout.nodes + 1)}

    @property
    def state_file(self) -> Path:
        return self.data_dir / CLUSTER_FILE

    @property
    def nodes(self) -> int:
        return self.layout.nodes

    @property
    def majority(self) -> int:
        return self.nodes // 2 + 1

    def _member(self, k: int) -> LocalBroker:
        lay = self.layout
        node_settings = self.settings.model_copy(
            update={
                "nodes": lay.nodes,
                "data_dir": self.data_dir / f"node-{k}",
                "port": lay.client_port(k),
                "controller_port": lay.controller_port + k - 1,
                "internal_port": lay.internal_port + k - 1,
            }
        )
        role = ClusterRole(
            node_id=k, nodes=lay.nodes, voters=lay.voters(), cluster_id=lay.cluster_id, tls_dir=self.data_dir / "tls"
        )
        return LocalBroker(node_settings, role)

    def node(self, node_id: int) -> LocalBroker:
        if node_id not in self.members:
            raise BrokerError(
                f"--node {node_id} is out of range: the cluster in {self.data_dir} has nodes 1 to {self.nodes}",
                hint=f"pass --node 1 to {self.nodes}",
            )
        return self.members[node_id]

    @property
    def tls(self) -> certs.TlsFiles:
        return self.members[1].tls

    @property
    def advertise(self) -> str:
        return self.members[1].advertise

    @property
    def bootstrap(self) -> str:
        """Every node's client address: a client reaches the cluster through any of them."""
        return ",".join(m.bootstrap for m in self.members.values())

    @property
    def local_bootstrap(self) -> str:
        return ",".join(m.local_bootstrap for m in self.members.values())

    # lifecycle
    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self.data_dir.chmod(PRIVATE_DIR)
        if not self.state_file.is_file():
            if any(self.data_dir.iterdir()):
                raise BrokerError(
                    f"the data dir {self.data_dir} is not empty and holds no cluster",
                    hint="choose an empty or new --data-dir for a cluster",
                )
            self.layout.save(self.state_file)
        make_private(self.state_file)

    def running_state(self) -> ClusterState | None:
        running = {k: s for k, m in self.members.items() if (s := m.running_state()) is not None}
        if not running:
            return None
        return ClusterState(running, self.bootstrap, self.settings.kafka_version)

    def start(self) -> tuple[ClusterState, bool]:
        """Start every node that is not running and wait until all answer; return (state, started any)."""
        report = self.start_nodes(list(self.members))
        return report.state, bool(report.started)

    def start_nodes(self, node_ids: list[int]) -> StartReport:
        """Start these nodes (the others untouched); wait for them when a majority of voters will run."""
        for k in node_ids:
            self.node(k)
        self.members[1].check_settings()
        self._prepare_dir()
        todo = [k for k in node_ids if self.members[k].running_state() is None]
        self._check_same_address(todo)
        for k in todo:
            self.members[k].check_ports()
        launched: dict[int, BrokerState] = {}
        try:
            if todo and self.settings.exposed:
                self.members[todo[0]].ensure_certificate()  # once, before the nodes share it
            # In parallel: formatting and starting a JVM take seconds each.
            with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
                futures = {k: pool.submit(self.members[k].launch) for k in todo}
            errors = []
            for k, future in futures.items():
                try:
                    launched[k] = future.result()
                except BrokerError as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
            alive = sum(1 for m in self.members.values() if m.running_state() is not None)
            waiting: list[int] = []
            if alive >= self.majority:
                deadline = time.monotonic() + self.settings.start_timeout_s
                for k, st in launched.items():
                    self.members[k].wait_ready(st, deadline)
                if launched and self.settings.exposed:
                    first = next(iter(launched))
                    self.members[first].set_admin_credential(launched[first])
            else:
                waiting = list(launched)  # a lone voter cannot elect a leader; it waits for the others
        except BaseException:
            for k in launched:
                self.members[k].stop()
            raise
        state = self.running_state()
        assert state is not None
        return StartReport(state, started=list(launched), waiting=waiting)

    def _check_same_address(self, todo: list[int]) -> None:
        """Refuse to restart a node on another address than the running nodes serve on.

        cluster.json keeps ports, not addresses (an address may rightly change between full
        starts), so a `start --node N` without the running cluster's --host/--advertise would
        bring back a loopback-only node in an exposed cluster: unreachable, and mixed silently.
        """
        running = [st for k, m in self.members.items() if k not in todo and (st := m.running_state()) is not None]
        if not todo or not running:
            return
        ref, node = running[0], self.members[todo[0]]
        if (node.settings.host, node.advertise) != (ref.host, ref.advertise):
            raise BrokerError(
                f"node {todo[0]} would start on {node.settings.host} (advertised as {node.advertise}), but the "
                f"running nodes serve on {ref.host} (advertised as {ref.advertise})",
                hint=f"pass --host {ref.host} --advertise {ref.advertise}"
                + (" and the admin password (EVENTLAKE_BROKER__SASL_PASSWORD)" if not is_loopback(ref.host) else ""),
            )

    def stop(self) -> bool:
        """Stop every node at once (SIGTERM, then SIGKILL after stop_timeout_s); False if none ran.

        All together, not one by one: the last node standing would wait for a quorum that is gone.
        """
        with ThreadPoolExecutor(max_workers=self.nodes) as pool:
            stopped = list(pool.map(lambda m: m.stop(), self.members.values()))
        return any(stopped)

    def stop_node(self, node_id: int) -> bool:
        return self.node(node_id).stop()

    def kill_node(self, node_id: int) -> bool:
        return self.node(node_id).kill()

    def logs(self, lines: int = 100, node_id: int | None = None) -> str:
        if node_id is not None:
            return self.node(node_id).logs(lines)
        parts = []
        for k, m in self.members.items():
            text = m.logs(lines)
            if text:
                parts.append(f"==> node {k}: {m.log_file} <==\n{text}")
        return "\n".join(parts)

    @property
    def log_file(self) -> Path:
        return self.members[1].log_file

    def rotate_certificate(
        self, extra: list[str] | None = None, *, days: int = certs.DEFAULT_DAYS, renew: bool = True
    ) -> tuple[certs.CertInfo, bool]:
        """One new certificate for every node (they share it); each running node serves it at once."""
        first, *others = self.members.values()
        info, changed = first.rotate_certificate(extra, days=days, renew=renew)
        if changed and self.settings.exposed:
            for m in others:
                st = m.running_state()
                if st is not None:
                    reload_keystore(st.local_bootstrap, m.node_id, str(m.tls.keystore))
        return info, changed

    # inspection
    def status(self, *, quorum: bool = True) -> ClusterStatus:
        """Each node up or down, the controller quorum and the partitions' replication; fast when down.

        A node whose process is gone is down at once; the others are asked in parallel, with a
        short time-out, and the quorum only when a majority answers.
        """
        # How the running nodes were started (an exposed cluster's host and names), not today's flags.
        started = next((st for m in self.members.values() if (st := m.running_state()) is not None), None)
        host = started.host if started is not None else self.settings.host
        bootstrap = self.bootstrap
        if started is not None:
            bootstrap = ",".join(f"{started.advertise}:{self.layout.client_port(k)}" for k in self.members)
        exposed = not is_loopback(host)
        with ThreadPoolExecutor(max_workers=self.nodes) as pool:
            nodes = list(pool.map(lambda k: self._node_status(k, exposed), self.members))
        up = [n for n in nodes if n.up]
        running = len(up) >= self.majority
        quorum_info = partitions = None
        if running and quorum:
            # Only the live controllers: the tool would wait on a dead one.
            controllers = ",".join(f"127.0.0.1:{self.members[n.node_id].controller_port}" for n in up)
            quorum_info = describe_quorum(
                controllers, self.settings.kafka_version, self.settings.cache_dir, self._quiet_log4j(), timeout_s=10
            )
        # The loopback listener each running node was started with (an exposed node's internal one).
        local = [st.local_bootstrap for n in up if (st := self.members[n.node_id].running_state()) is not None]
        if local:
            partitions = self._partitions(",".join(local))
        info = self.members[1].tls.info() if exposed else None
        reason = None
        if not running:
            reason = f"{len(up)} of {self.nodes} nodes answer; the cluster needs {self.majority} to serve"
        return ClusterStatus(
            running=running,
            data_dir=str(self.data_dir),
            bootstrap=bootstrap,
            version=self.settings.kafka_version,
            nodes=nodes,
            quorum=quorum_info,
            partitions=partitions,
            certificate=info.as_dict() if info is not None else None,
            reason=reason,
        )

    def _node_status(self, k: int, exposed: bool) -> NodeStatus:
        m = self.members[k]
        st = m.running_state()
        state = "down"
        if st is not None:
            try:
                check_reachable(st.local_bootstrap, timeout_s=2.0)
                state = "up"
            except BrokerUnreachable:
                state = "starting"  # alive, not serving: starting, or waiting for a quorum
        return NodeStatus(
            node_id=k,
            state=state,
            pid=st.pid if st is not None else None,
            port=m.settings.port,
            controller_port=m.controller_port,
            internal_port=m.internal_port if exposed else None,
            uptime_s=round(time.time() - st.started_at, 1) if st is not None else None,
        )

    def _quiet_log4j(self) -> Path:
        path = self.data_dir / "tools-log4j2.properties"
        if not path.is_file():
            with contextlib.suppress(OSError):
                write_private(path, _LOG4J_QUIET)
        return path

    @staticmethod
    def _partitions(bootstrap: str) -> dict[str, int] | None:
        """Topic partitions in all, with fewer in-sync replicas than replicas, and without a leader."""
        try:
            meta = admin_client(bootstrap).list_topics(timeout=5)
        except KafkaException:
            return None
        total = under = offline = 0
        for topic in meta.topics.values():
            for p in topic.partitions.values():
                total += 1
                under += len(p.isrs) < len(p.replicas)
                offline += p.leader < 0
        return {"total": total, "under_replicated": under, "offline": offline}
