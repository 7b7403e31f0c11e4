"""An Iceberg reader that is not pyiceberg: Iceberg's Java library (tests/integration/java/iceberg).

Its jars (iceberg-core/-data/-parquet, Hadoop's shaded client, the SQLite JDBC driver) are
resolved from Maven Central once, by Maven, into `~/.cache/eventlake/iceberg-java/<pom hash>/`
(as S3Proxy's are); `ReadIceberg.java` runs with Java's source launcher (a JDK: javac's
package, which `make test`'s system-deps installs). A reader that cannot be installed fails
the test with the reason: it never skips.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from eventlake.runtime.cache import default_cache_dir
from eventlake.runtime.maven import MAVEN_TIMEOUT_S, copy_dependencies

JAVA_DIR = Path(__file__).parent / "integration" / "java" / "iceberg"


def iceberg_java_libs() -> Path:
    """The reader's jar folder, resolved with Maven the first time (a changed pom resolves anew)."""
    pom = (JAVA_DIR / "pom.xml").read_text()
    libs = default_cache_dir() / "iceberg-java" / hashlib.sha256(pom.encode()).hexdigest()[:16]
    if (libs / ".complete").is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.fail("the Iceberg Java reader is resolved with Maven, and mvn is not installed (make system-deps)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="resolve-", dir=libs.parent))
    try:
        out = scratch / "libs"
        try:
            proc = copy_dependencies(mvn, pom, out)
        except subprocess.TimeoutExpired:
            pytest.fail(f"Maven did not resolve the Iceberg Java reader within {MAVEN_TIMEOUT_S} s")
        if proc.returncode != 0 or not any(out.glob("iceberg-core-*.jar")):
            pytest.fail(f"Maven could not resolve the Iceberg Java reader: {(proc.stdout + proc.stderr)[-500:]}")
        (out / ".complete").write_text(pom)
        if libs.exists():
            shutil.rmtree(libs)
        out.rename(libs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return libs


def read_with_iceberg_java(lake: Path, namespace: str, table: str, sum_column: str) -> dict[str, Any]:
    """{rows, distinct, sum, snapshot, format_version} as Iceberg's Java library reads the table
    through the lake's embedded catalog (pyiceberg's SQLite file, read by Iceberg's JdbcCatalog)."""
    java = shutil.which("java")
    if java is None or shutil.which("javac") is None:
        pytest.fail("the Iceberg Java reader needs a JDK (java and javac; make system-deps installs one)")
    libs = iceberg_java_libs()
    catalog = lake / "_eventlake" / "iceberg.sqlite"
    program = [java, "-Xmx512m", "-cp", f"{libs}/*", str(JAVA_DIR / "ReadIceberg.java")]
    done = subprocess.run(
        [*program, str(catalog), f"file://{lake}", namespace, table, sum_column],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"Iceberg's Java reader failed: {done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
