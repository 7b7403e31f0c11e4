"""`eventlake produce TOPIC --source ...`: parse flags, call eventlake.produce, render progress and the summary."""

from __future__ import annotations

import signal
import sys
import threading
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, ConfigOpt, settings
from eventlake.config.produce import ProduceCompression

if TYPE_CHECKING:
    from eventlake.produce import ProduceReport


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class LiveLine:
    """One line on stderr, redrawn in place: rate, sent, delivered, failed, bad rows, ETA when known."""

    def __init__(self) -> None:
        from rich.live import Live
        from rich.text import Text

        self.started = time.monotonic()
        self.live = Live(Text(""), console=output.err_console(), transient=True, auto_refresh=False)
        self.live.start()

    def update(self, report: ProduceReport) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = report.sent / elapsed
        parts = [
            f"{rate:,.0f} events/s",
            f"sent {report.sent:,}",
            f"delivered {report.delivered:,}",
            f"failed {report.failed:,}",
        ]
        if report.bad_rows_total:
            parts.append(f"bad rows {report.bad_rows_total:,}")
        if report.expected:
            done = min(report.sent / report.expected, 1.0)
            eta = (report.expected - report.sent) / rate if rate > 0 else 0.0
            parts.append(f"{done:.0%} ETA {_duration(eta)}")
        from rich.text import Text

        self.live.update(Text("  ".join(parts)), refresh=True)

    def stop(self) -> None:
        self.live.stop()


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _say(message: str) -> None:
    """A summary line on stderr, never wrapped (scripts grep it) and never read as markup."""
    output.err_console().print(message, soft_wrap=True, markup=False, highlight=False)


def render_summary(report: ProduceReport) -> None:
    if report.resumed_at is not None:
        _say(
            f"resumed {report.source} after {report.resumed_at} ({report.previously_sent:,} events sent by "
            "earlier runs)"
        )
    _say(
        f"produced {report.sent:,} events from {report.source} to {report.topic} in {report.seconds:.2f} s "
        f"({report.rate:,.0f}/s): {report.delivered:,} delivered, {report.failed:,} failed"
        + (" (interrupted)" if report.interrupted else "")
        + (f" in {report.transactions:,} transactions" if report.exactly_once else "")
    )
    for note in report.notes:
        _say(note)
    if report.bad_rows_total:
        _say(f"{report.bad_rows_total:,} bad rows -> {report.dlq_topic} ({report.dlq:,} delivered there):")
        for bad in report.bad_rows:
            _say(f"  {bad.where()}: {bad.reason}")
        if report.bad_rows_total > len(report.bad_rows):
            _say(f"  ... and {report.bad_rows_total - len(report.bad_rows):,} more")
    for warning in report.warnings:
        _say(f"warning: {warning}")
    if not report.ok:
        detail = "; ".join(report.errors) or "no delivery report in time"
        output.error(f"{report.not_delivered:,} events were not delivered: {detail}")


def _stop_between_events() -> threading.Event:
    """The first Ctrl-C or SIGTERM ends the run between two events: what is in flight is flushed
    and reported (with --exactly-once the open transaction commits exactly what was sent); a
    second one interrupts at once (with --exactly-once the transaction aborts)."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return stop


def register(app: typer.Typer) -> None:
    @app.command("produce")
    def produce_cmd(
        ctx: typer.Context,
        topic: Annotated[str, typer.Argument(help="Kafka topic to send to.")],
        source: Annotated[
            str,
            typer.Option(
                "--source",
                help="A .csv, .jsonl or .parquet file, - (JSON Lines on stdin), sample:stocks or synthetic:ticks.",
                show_default=False,
            ),
        ],
        rate: Annotated[
            float | None,
            typer.Option("--rate", help="Events per second (default: as fast as possible).", show_default=False),
        ] = None,
        speed: Annotated[
            float | None, typer.Option("--speed", help="Replay by --time-field, X times faster.", show_default=False)
        ] = None,
        limit: Annotated[int | None, typer.Option("--limit", help="Stop after N events.", show_default=False)] = None,
        loop: Annotated[bool, typer.Option("--loop", help="Start the source again at its end.")] = False,
        key: Annotated[
            str | None, typer.Option("--key", help="Field whose value is the message key.", show_default=False)
        ] = None,
        time_field: Annotated[
            str | None,
            typer.Option("--time-field", help="Field whose value is the message timestamp.", show_default=False),
        ] = None,
        sync: Annotated[bool, typer.Option("--sync", help="Wait for each acknowledgement.")] = False,
        strict: Annotated[
            bool,
            typer.Option("--strict", help="Stop at the first bad row (exit 1) instead of sending it to TOPIC.dlq."),
        ] = False,
        create_topic: Annotated[bool, typer.Option("--create-topic", help="Create TOPIC if missing.")] = False,
        partitions: Annotated[
            int, typer.Option("--partitions", min=1, help="Partitions of a topic --create-topic creates.")
        ] = 3,
        compression: Annotated[
            str | None,
            typer.Option(
                "--compression",
                help=f"{', '.join(get_args(ProduceCompression))} (default: produce.compression, lz4).",
                show_default=False,
            ),
        ] = None,
        sample: Annotated[
            float | None,
            typer.Option(
                "--sample",
                help="Keep this fraction of records, at random (repeatable with --seed).",
                show_default=False,
            ),
        ] = None,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Seed of --sample and of synthetic data.", show_default=False)
        ] = None,
        exactly_once: Annotated[
            bool,
            typer.Option(
                "--exactly-once",
                help="Send a file in Kafka transactions that record how far they got: run again "
                "after a crash and it resumes, nothing twice.",
            ),
        ] = False,
        restart: Annotated[
            bool,
            typer.Option(
                "--restart", help="With --exactly-once: forget the recorded progress and send the file from the top."
            ),
        ] = False,
        replay_id: Annotated[
            str | None,
            typer.Option(
                "--replay-id",
                help="With --exactly-once: a separate replay of the same file into the same topic.",
                show_default=False,
            ),
        ] = None,
        output_format: Annotated[
            OutputFormat, typer.Option("--output", help="Summary as text (stderr) or json (stdout).")
        ] = OutputFormat.text,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Send events from a file, stdin, a real sample or a synthetic stream into a Kafka topic."""
        from eventlake.produce import ProduceOptions, produce  # the Kafka client loads only for this command
        from eventlake.produce.exceptions import BadRowError

        s = settings(ctx, config, bootstrap_servers=bootstrap_servers)
        options = ProduceOptions(
            rate=rate,
            speed=speed,
            limit=limit,
            loop=loop,
            key=key,
            time_field=time_field,
            sync=sync,
            strict=strict,
            create_topic=create_topic,
            partitions=partitions,
            sample=sample,
            seed=seed,
            compression=compression,
            exactly_once=exactly_once,
            restart=restart,
            replay_id=replay_id,
        )
        # Ctrl-C and SIGTERM both mean: flush what is in flight, then report. Set explicitly: a
        # process started in the background inherits SIGINT ignored, and SIGTERM would kill it
        # with events still in librdkafka's queue.
        # The handler only sets an event that the loop checks between events: an exception raised
        # inside librdkafka's poll() can come back as "SystemError: returned NULL" (seen in CI).
        stop = _stop_between_events()
        live = LiveLine() if sys.stderr.isatty() else None
        try:
            report = produce(s, topic, source, options, progress=live.update if live else None, stop=stop)
        except BadRowError as exc:
            if exc.report is not None and output_format is OutputFormat.json:
                output.print_json(exc.report.to_dict())
            raise
        finally:
            if live is not None:
                live.stop()
        if output_format is OutputFormat.json:
            output.print_json(report.to_dict())
        else:
            render_summary(report)
        if not report.ok:
            raise typer.Exit(1)
