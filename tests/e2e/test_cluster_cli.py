"""`eventlake broker` on a 3-node cluster as a user types it: what the data dir remembers, and the refusals.

The drills themselves (`broker kill|stop|start --node N` under load) are in
tests/integration/test_cluster.py, on the same session cluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from eventlake.broker.cluster import LocalCluster
from eventlake.runtime import free_port
from tests.e2e.conftest import EVENTLAKE, Run
from tests.fixtures_cluster import partitions_of

pytestmark = pytest.mark.e2e


def test_the_data_dir_remembers_its_nodes_and_status_shows_each(cli: Run, cluster: LocalCluster) -> None:
    data = ["--data-dir", str(cluster.data_dir)]
    ports = [m.settings.port for m in cluster.members.values()]

    again = cli("broker", "start", *data)  # no --nodes, no --port: the data dir's cluster
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ",".join(f"127.0.0.1:{p}" for p in ports)  # every node, for clients
    assert [f"node {k} already running" in again.stderr for k in (1, 2, 3)] == [True] * 3

    text = cli("broker", "status", *data)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("up: ") and "3 of 3 nodes up" in lines[0]
    for k, port in enumerate(ports, start=1):
        pid = cluster.members[k].running_state()
        assert pid is not None
        assert f"node {k}: up (pid {pid.pid}, port {port}, controller {cluster.members[k].controller_port})" in lines
    assert any(line.startswith("quorum: leader ") and "voters 1,2,3" in line for line in lines), lines

    status = json.loads(cli("broker", "status", "--format", "json", *data).stdout)
    assert [(n["node_id"], n["state"], n["port"]) for n in status["nodes"]] == [
        (k, "up", p) for k, p in enumerate(ports, start=1)
    ]
    assert status["quorum"]["leader_id"] in (1, 2, 3)
    followers = [m for m in status["quorum"]["members"] if m["status"] == "Follower"]
    assert len(followers) == 2 and all(m["lag"] >= 0 for m in followers)


def test_a_different_nodes_count_is_refused_in_one_line(cli: Run, cluster: LocalCluster) -> None:
    res = cli("broker", "start", "--nodes", "1", "--data-dir", str(cluster.data_dir))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1
    assert f"the data dir {cluster.data_dir} holds a 3-node cluster, not 1 node" in res.stderr
    assert "start it with --nodes 3 (or without --nodes)" in res.stderr


def test_a_node_out_of_range_is_refused_in_one_line(cli: Run, cluster: LocalCluster, tmp_path: Path) -> None:
    for command in ("stop", "kill", "start"):
        res = cli("broker", command, "--node", "4", "--data-dir", str(cluster.data_dir))
        assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
        assert "--node 4 is out of range: the cluster in" in res.stderr and "has nodes 1 to 3" in res.stderr
    single = cli("broker", "stop", "--node", "2", "--data-dir", str(tmp_path / "single"))
    assert single.returncode == 1 and "is a single node" in single.stderr


def test_a_single_node_data_dir_refuses_a_cluster(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "single"
    (data / "kraft").mkdir(parents=True)
    (data / "kraft" / "meta.properties").write_text("node.id=1\n")
    res = cli("broker", "start", "--nodes", "3", "--data-dir", str(data))
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert "holds a single-node broker, not 3 nodes" in res.stderr


def test_demo_runs_on_the_cluster_with_three_replicas(cluster: LocalCluster, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env["EVENTLAKE_BROKER__DATA_DIR"] = str(cluster.data_dir)
    port = free_port()
    proc = subprocess.Popen(
        [EVENTLAKE, "demo", "--nodes", "3", "--port", str(port), "--rate", "100", "--duration", "60"],
        cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/", proc.stderr.read() if proc.poll() is not None else url
        deadline = time.monotonic() + 60
        while _count(url, "stock_ticks") == 0:
            assert time.monotonic() < deadline, "no ticks landed"
            time.sleep(0.5)
        replicas = [len(r) for _, r, _ in partitions_of(cluster.local_bootstrap, "stock-ticks").values()]
        assert replicas == [3, 3, 3]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert f"using the running broker at {cluster.bootstrap}" in err
    assert "stopping the broker" not in err  # the demo leaves a cluster it did not start running
    assert all(m.running_state() is not None for m in cluster.members.values())


def _count(url: str, table: str) -> int:
    r = httpx.post(f"{url}api/query", json={"sql": f"SELECT count(*) FROM {table}"}, timeout=20)
    return int(r.json()["rows"][0][0]) if r.status_code == 200 else 0
