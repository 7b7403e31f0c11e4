"""`--profile`: run eventlake's CLI under py-spy and say where its time went.

py-spy lives in an environment of its own (bench/.venvs/profilers), samples from outside
the process (--nonblocking, 100 Hz, subprocesses included) and writes raw collapsed
stacks; `summarize` turns them into the functions with the most samples, by self time
and including callees. Timings of profiled runs are marked `profiled`: sampling costs a little.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.venvs import peer_python

TOP = 20


def py_spy() -> Path:
    return peer_python("profilers").parent / "py-spy"


def wrap(cmd: list[str], out: Path) -> list[str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    return [
        str(py_spy()),
        "record",
        "--nonblocking",
        "--subprocesses",
        "--function",
        "--rate",
        "100",
        "--format",
        "raw",
        "--output",
        str(out),
        "--",
        *cmd,
    ]


def summarize(raw: str, top: int = TOP) -> dict[str, list[tuple[str, float]]]:
    """Shares of samples per function: `self` (on top of the stack) and `total` (anywhere in it)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if samples == 0:
        return {"self": [], "total": []}

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100.0 * n / samples, 1)) for frame, n in counter.most_common(top)]

    return {"self": shares(own), "total": shares(total)}


def _short(frame: str) -> str:
    """py-spy's per-process root frame carries the whole command line; the pid is enough."""
    if frame.startswith("process "):
        return frame.split(":", 1)[0] + " (no Python frame: native code or waiting)"
    return frame


def report(name: str, raw_file: Path) -> dict[str, object]:
    """Write `<name>.txt` beside the raw file and return the summary for the results."""
    if not raw_file.is_file():
        return {"error": f"py-spy wrote no profile to {raw_file}"}
    summary = summarize(raw_file.read_text())
    lines = [f"# {name}: share of py-spy samples (100 Hz)", "", "## self time", ""]
    lines += [f"{pct:5.1f}%  {frame}" for frame, pct in summary["self"]]
    lines += ["", "## including callees", ""]
    lines += [f"{pct:5.1f}%  {frame}" for frame, pct in summary["total"]]
    text_file = raw_file.with_suffix(".txt")
    text_file.write_text("\n".join(lines) + "\n")
    return {"raw": str(raw_file), "summary": str(text_file), "top_self": summary["self"][:8]}
