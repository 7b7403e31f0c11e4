#!/usr/bin/env bash
# Install the Debian packages the tests use (kcat: an outside Kafka client; chromium:
# the browser tests; maven: the S3 test server; iproute2: `ip netns` and `ss` for the "other
# machine" network tests; openssl: `openssl s_client` against the TLS listener), and Java if it is missing. Only as root on a Debian-like system;
# elsewhere say what is missing and let the tests report it.
set -euo pipefail
need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
{ command -v ip && command -v ss; } >/dev/null 2>&1 || need+=(iproute2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The EC2 user data script (eventlake.deploy) must pass shellcheck.
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
# javac: the tests compile small Java programs (Kafka's tools, Iceberg's Java reader: tests/iceberg_java.py).
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
# Maven resolves the S3 test server (S3Proxy); eventlake itself can fetch Kafka without it.
command -v mvn >/dev/null 2>&1 || need+=(maven)
# PostgreSQL: the server the catalog-on-PostgreSQL tests start (tests/fixtures_postgres.py).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # The tests start their own PostgreSQL; keep Debian from creating and starting a "main" cluster.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/eventlake.conf
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]} (install them with your package manager)" >&2
fi
