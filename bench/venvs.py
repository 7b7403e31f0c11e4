"""One virtual environment per peer under bench/.venvs/<peer>, created on first use.

A peer never shares eventlake's environment: quixstreams, for one, pins its own
confluent-kafka. Versions are pinned so two runs of the bench compare the same peers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"

# peer name -> pinned requirements (quixstreams brings its own confluent-kafka pin).
PEERS: dict[str, list[str]] = {
    # s3fs: the seed tutorial's consumer writes each message to S3 with it.
    "kafka-python": ["kafka-python==3.0.12", "lz4==4.4.5", "s3fs==2026.9.0"],
    "quixstreams": ["quixstreams==3.28.1", "pyarrow==26.0.1", "orjson==3.13.0"],
    # Not a peer: the sampling profiler behind --profile, kept out of eventlake's environment too.
    "profilers": ["py-spy==0.4.3"],
}

_STAMP = ".bench-installed"


def peer_python(peer: str) -> Path:
    """The interpreter of `peer`'s environment, created and filled the first time."""
    requirements = PEERS[peer]
    venv = VENVS_DIR / peer
    python = venv / "bin" / "python"
    stamp = venv / _STAMP
    wanted = "\n".join(requirements)
    if python.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    print(f"[bench] creating the {peer} environment in {venv} (first run only)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
    stamp.write_text(wanted)
    return python


def installed_version(peer: str, package: str) -> str:
    """The version of `package` inside `peer`'s environment (for the results' record)."""
    python = peer_python(peer)
    proc = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"


if __name__ == "__main__":  # `python -m bench.venvs` prepares every peer ahead of a run
    for name in PEERS:
        print(name, peer_python(name))
