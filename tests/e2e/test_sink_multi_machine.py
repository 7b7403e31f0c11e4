"""Three sink "machines" in one group, each in its own working directory, sharing nothing but Kafka, the
S3 lake (the real S3 server) and the catalog on a real PostgreSQL. For a minute, while events are produced,
a random one is SIGKILLed and started again; then the table is exact: every (partition, offset) once,
every value as sent. Once with Iceberg tables (their catalog on PostgreSQL too), once with the plain
Parquet lake and eventlake's ledger on PostgreSQL. And one sink run with the Iceberg catalog on AWS Glue."""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from eventlake.broker.admin import TopicAdmin
from eventlake.catalog import open_catalog
from eventlake.catalog.iceberg_catalog import open_iceberg_catalog
from eventlake.config import Settings, load_settings
from eventlake.lake import open_lake
from eventlake.lake.local_s3 import LocalS3
from tests.e2e.conftest import EVENTLAKE
from tests.fixtures_postgres import PostgresServer
from tests.fixtures_produce import end_offsets
from tests.fixtures_sink import Sent, assert_exactly_once, make_events, produce_events, read_landed
from tests.polling import wait_until

pytestmark = pytest.mark.e2e

CHAOS_S = 60.0  # the "killed and restarted at random for a minute"
RATE = 500  # events a second while the sinks come and go


class Machine:
    """One sink process in its own working directory; SIGKILLed and started again."""

    def __init__(self, name: str, cwd: Path, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.cwd, self.argv, self.env = name, cwd, argv, env
        cwd.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[str] | None = None
        self.stderr: list[str] = []
        self.kills = 0
        self.down = True  # killed and not started again yet

    def alive(self) -> None:
        """Fail if it exited without being killed (a crash is a failure, with its reason)."""
        if self.proc is not None and not self.down and self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited {self.proc.returncode}: {self.proc.communicate()[1][-2000:]}")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.cwd
        )
        self.down = False

    def kill(self) -> None:
        assert self.proc is not None
        self.alive()
        if self.down:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.stderr.append(self.proc.communicate(timeout=30)[1])
        self.kills += 1
        self.down = True

    def stop(self) -> int:
        """SIGTERM: a running sink flushes and exits 0. One still starting (no handler yet, nothing
        said) dies of the signal, as any program would: that counts as stopped too."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=120)
        self.stderr.append(err)
        if self.proc.returncode == -signal.SIGTERM and not err.strip():
            return 0
        return self.proc.returncode


def _settings(lake: str, catalog: str, password: str, s3: LocalS3, table_format: str) -> Settings:
    iceberg = {"catalog": catalog} if table_format == "iceberg" else {}
    return load_settings(
        overrides={"lake": lake, "catalog": catalog, "catalog_password": password, "iceberg": iceberg, **s3.overrides()}
    )


def _landed(settings: Settings, topic: str, table_format: str) -> int:
    """Rows committed so far, as the catalog says."""
    if table_format == "iceberg":
        from pyiceberg.exceptions import NoSuchTableError

        try:
            table = open_iceberg_catalog(open_lake(settings.lake, settings.s3), settings).load_table(
                ("default", topic.replace("-", "_"))
            )
        except NoSuchTableError:
            return 0
        snap = table.current_snapshot()
        return 0 if snap is None or snap.summary is None else int(snap.summary.additional_properties["total-records"])
    with open_catalog(settings) as store:
        return sum(int(row["rows"]) for row in store.ledger_summary(0.0))


@pytest.mark.parametrize("table_format", ["iceberg", "parquet"])
def test_three_machines_killed_at_random_for_a_minute_land_exactly_once(
    bootstrap: str,
    admin: TopicAdmin,
    unique_name: str,
    tmp_path: Path,
    s3_server: LocalS3,
    pg_catalog_url: str,
    postgres_server: PostgresServer,
    table_format: str,
) -> None:
    topic = unique_name
    admin.create(topic, partitions=6)  # two per machine, moved around at every kill
    lake = f"s3://{s3_server.bucket}/{topic}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLAKE_", "PG"))}
    env.update(
        {
            "EVENTLAKE_CATALOG_PASSWORD": postgres_server.password,
            "EVENTLAKE_S3__ENDPOINT_URL": s3_server.endpoint,
            "EVENTLAKE_S3__ACCESS_KEY_ID": s3_server.access_key,
            "EVENTLAKE_S3__SECRET_ACCESS_KEY": s3_server.secret_key,
            # A killed member's partitions move on after 6 s (the broker's smallest session timeout).
            "EVENTLAKE_SINK__SESSION_TIMEOUT_MS": "6000",
        }
    )
    if table_format == "iceberg":
        env["EVENTLAKE_ICEBERG__CATALOG"] = pg_catalog_url
    argv = [EVENTLAKE, "sink", topic, "--lake", lake, "--catalog", pg_catalog_url, "--bootstrap-servers", bootstrap,
            "--group", f"g-{topic}", "--table-format", table_format, "--flush-rows", "3000"]  # fmt: skip
    machines = [Machine(f"machine{i}", tmp_path / f"machine{i}", argv, env) for i in (1, 2, 3)]
    for m in machines:
        m.start()

    events = [orjson.dumps(e) for e in make_events(int(RATE * (CHAOS_S + 10)), seed=21)]
    coords: dict[tuple[int, int], Any] = {}
    failures: list[str] = []
    stop = threading.Event()

    def produce_paced() -> None:
        """One producer for the whole minute, RATE events a second (fewer if the machine lags)."""
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True})

        def delivered(err: Any, msg: Any, i: int) -> None:
            if err is not None:
                failures.append(str(err))
            else:
                coords[(msg.partition(), msg.offset())] = orjson.loads(events[i])

        began, done = time.monotonic(), 0
        while not stop.is_set() and done < len(events):
            due = min(len(events), int((time.monotonic() - began) * RATE))
            for n in range(done, due):
                producer.produce(topic, events[n], str(n).encode(), on_delivery=functools.partial(delivered, i=n))
            done = due
            producer.poll(0.1)
        if producer.flush(60) != 0:
            failures.append("messages still unsent after 60 s")

    producer = threading.Thread(target=produce_paced)
    producer.start()
    rnd = random.Random()
    settings = _settings(lake, pg_catalog_url, postgres_server.password, s3_server, table_format)
    try:
        deadline = time.monotonic() + CHAOS_S
        while time.monotonic() < deadline:
            time.sleep(rnd.uniform(1.0, 5.0))
            victim = rnd.choice(machines)
            victim.kill()
            if rnd.random() < 0.7:  # mostly straight back; sometimes it stays down a while
                victim.start()
            for m in machines:
                m.alive()
                if m.down and rnd.random() < 0.5:
                    m.start()
        stop.set()
        producer.join(60)
        chaos_done = time.monotonic()
        for m in machines:
            m.alive()
            if m.down:
                m.start()
        assert not failures, failures[:3]
        sent = Sent(dict(coords))

        # The survivors catch up (a killed member's partitions reach them after its session timeout).
        def caught_up() -> bool:
            for m in machines:
                m.alive()
            return _landed(settings, topic, table_format) >= len(sent)

        try:
            wait_until(caught_up, 300, "every event landing", 0.5)
        except BaseException:
            landed = _landed(settings, topic, table_format)
            for m in machines:  # what they were doing, for the failure report
                m.stop()
            tails = {m.name: m.stderr[-1][-1500:] for m in machines}
            pytest.fail(f"{landed} of {len(sent)} landed; the sinks said: {tails}")
        print(f"caught up {time.monotonic() - chaos_done:.1f} s after the chaos; {len(sent)} events")
        codes = [m.stop() for m in machines]
    finally:
        stop.set()
        producer.join(60)
        for m in machines:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.kill()
                m.proc.communicate(timeout=30)
    assert codes == [0, 0, 0], [m.stderr[-1][-1500:] for m in machines]
    assert sum(m.kills for m in machines) >= 10
    assert len(sent) >= RATE * CHAOS_S * 0.5  # events flowed all through the minute

    s3 = open_lake(lake, settings.s3)
    name = topic.replace("-", "_")
    if table_format == "iceberg":
        table = open_iceberg_catalog(s3, settings).load_table(("default", name))
        assert_exactly_once(sent, table.scan().to_arrow(), topic)
        snap = table.current_snapshot()
        assert snap is not None and snap.summary is not None
        recorded = snap.summary.additional_properties
        ends = end_offsets(bootstrap, topic)
        assert {p: int(recorded[f"eventlake.offsets.{topic}.{p}"]) for p in ends} == ends
        assert all(t.file.file_path.startswith(f"{lake}/{name}/data/") for t in table.scan().plan_files())
    else:
        with open_catalog(settings) as store:
            assert_exactly_once(sent, read_landed(store, s3, topic), topic)

    # What a user checks: eventlake query over the shared lake and catalog, from a fourth folder.
    query_dir = tmp_path / "reader"
    query_dir.mkdir()
    out = subprocess.run(
        [EVENTLAKE, "query", "--lake", lake, "--catalog", pg_catalog_url, "--format", "json",
         f"SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d, sum(nested.a) AS s FROM {name}"],
        capture_output=True, text=True, env=env, cwd=query_dir, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    [got] = json.loads(out.stdout)
    assert got == {"n": len(sent), "d": len(sent), "s": sum(e["nested"]["a"] for e in sent.by_coord.values())}

    # Nothing was shared through the working directories, and no secret reached any output.
    for m in machines:
        assert not [p for p in m.cwd.rglob("*") if p.is_file()], f"{m.name} wrote local files"
        text = "".join(m.stderr)
        assert postgres_server.password not in text and s3_server.secret_key not in text


def test_a_sink_run_with_the_iceberg_catalog_on_glue_lands_exactly_and_query_reads_it(
    bootstrap: str, topic: str, tmp_path: Path, moto_endpoint: str
) -> None:
    """AWS Glue as the Iceberg catalog (moto's server: no real Glue runs here), the lake a local folder."""
    sent = produce_events(bootstrap, topic, make_events(3000, seed=3))
    lake = tmp_path / "lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    aws = {"endpoint_url": moto_endpoint, "access_key_id": "testing", "secret_access_key": "glue-secret-xyz"}
    env |= {f"EVENTLAKE_AWS__{k.upper()}": v for k, v in aws.items()} | {"EVENTLAKE_ICEBERG__CATALOG": "glue"}
    database = f"glue_{topic.replace('-', '_')}"
    env["EVENTLAKE_DATABASE"] = database  # a Glue database of its own in the session's moto server
    common = ["--lake", str(lake)]
    sink = subprocess.run(
        [EVENTLAKE, "sink", topic, *common, "--bootstrap-servers", bootstrap, "--group", f"g-{topic}",
         "--table-format", "iceberg", "--until-idle", "2"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False,
    )  # fmt: skip
    assert sink.returncode == 0, sink.stderr[-2000:]
    assert "glue-secret-xyz" not in sink.stderr

    name = topic.replace("-", "_")
    settings = load_settings(
        overrides={"lake": str(lake), "aws": aws, "iceberg": {"catalog": "glue"}, "database": database}
    )
    import boto3

    entry = boto3.client("glue", **settings.aws.client_kwargs()).get_table(DatabaseName=database, Name=name)["Table"]
    assert entry["Parameters"]["table_type"].upper() == "ICEBERG"
    assert entry["Parameters"]["metadata_location"].startswith(f"{lake}/{name}/metadata/")
    table = open_iceberg_catalog(open_lake(str(lake)), settings).load_table((database, name))
    assert_exactly_once(sent, table.scan().to_arrow(), topic)
    assert not (lake / "_eventlake" / "iceberg.sqlite").exists()  # Glue's alone

    out = subprocess.run(
        [EVENTLAKE, "query", *common, "--format", "json",
         f"SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d, sum(nested.a) AS s FROM {name}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"n": 3000, "d": 3000, "s": sum(e["nested"]["a"] for e in sent.by_coord.values())}
    ]
