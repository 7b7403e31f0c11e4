#!/bin/bash
# eventlake broker instance bootstrap: EC2 user data, run once as root by cloud-init.
# Rendered by eventlake.deploy.user_data; the plan's values below are allow-listed and quoted.
# It holds no secret: the passwords are made here, on the instance, and published to SSM
# Parameter Store as SecureString; they never appear in user data, on a command line or in a log.
set -Eeuo pipefail  # -E: the ERR trap below reports failures inside functions too
umask 022

# ---- the plan
DEPLOYMENT=@@NAME@@
REGION=@@REGION@@
NODES=@@NODES@@
PORT=@@PORT@@
APP_USER=@@APP_USER@@
ADMIN_USER=@@ADMIN_USER@@
INSTALL_SPEC=@@INSTALL_SPEC@@
SSM_PREFIX=@@SSM_PREFIX@@
TOPIC_PREFIX=@@TOPIC_PREFIX@@

# ---- switches for running this script on a machine that is not a fresh instance (the tests):
# EVENTLAKE_BOOTSTRAP_ROOT         folder every written path goes under (default: /), and no systemd
# EVENTLAKE_BOOTSTRAP_SKIP_PACKAGES=1  install nothing; use the venv in EVENTLAKE_BOOTSTRAP_VENV
# EVENTLAKE_BOOTSTRAP_IMDS         the metadata service (default http://169.254.169.254)
# EVENTLAKE_BOOTSTRAP_USER         the broker's system user (default eventlake, created if missing)
ROOT="${EVENTLAKE_BOOTSTRAP_ROOT:-}"
IMDS="${EVENTLAKE_BOOTSTRAP_IMDS:-http://169.254.169.254}"
SERVICE_USER="${EVENTLAKE_BOOTSTRAP_USER:-eventlake}"
SKIP_PACKAGES="${EVENTLAKE_BOOTSTRAP_SKIP_PACKAGES:-0}"

ETC="$ROOT/etc/eventlake"
SECRETS="$ETC/secrets"
STATE="$ROOT/var/lib/eventlake"
VENV="${EVENTLAKE_BOOTSTRAP_VENV:-$ROOT/opt/eventlake/venv}"
CONF="$ETC/eventlake.toml"
ENV_FILE="$ETC/broker.env"
UNIT="eventlake-broker.service"
UNIT_FILE="$ROOT/etc/systemd/system/$UNIT"
PY="$VENV/bin/python"
EL="$VENV/bin/eventlake"

log() { printf 'eventlake-bootstrap: %(%Y-%m-%dT%H:%M:%S)T %s\n' -1 "$*"; }
fail() { log "FAILED: $*" >&2; exit 1; }
trap 'fail "line $LINENO exited with status $?"' ERR

# Every eventlake command runs as the broker's user, so what it writes (keys, data) is that user's.
as_service() {
  if [ "$SERVICE_USER" = "$(id -un)" ]; then
    "$@"
  else
    runuser -u "$SERVICE_USER" -- "$@"
  fi
}

# The same, with the admin's password in the environment (read from the root-only env file here,
# so it never reaches a command line).
as_service_with_secrets() {
  (
    set -a
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    set +a
    as_service "$@"
  )
}

# ---- 1. Java 17, Python and eventlake
install_packages() {
  local python
  if command -v dnf >/dev/null 2>&1; then  # Amazon Linux 2023: python3 is 3.9, eventlake needs 3.11+
    dnf install -y -q java-17-amazon-corretto-headless python3.11 python3.11-pip
    python=python3.11
  elif command -v apt-get >/dev/null 2>&1; then  # Debian 12
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends openjdk-17-jre-headless python3 python3-venv
    python=python3
  else
    fail "neither dnf nor apt-get found: use an Amazon Linux 2023 or Debian AMI"
  fi
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$INSTALL_SPEC"
}

if [ "$SKIP_PACKAGES" = "1" ]; then
  log "skipping package installation (EVENTLAKE_BOOTSTRAP_SKIP_PACKAGES=1), using $VENV"
else
  log "installing Java 17, Python and eventlake ($INSTALL_SPEC)"
  install_packages
fi
[ -x "$EL" ] || fail "$EL is missing: the eventlake installation failed"

# ---- 2. the broker's user and folders
if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
  log "creating system user $SERVICE_USER"
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin "$SERVICE_USER"
fi
SERVICE_GROUP="$(id -gn "$SERVICE_USER")"
install -d -m 755 "$ETC"
install -d -m 700 "$SECRETS"
install -d -m 700 -o "$SERVICE_USER" -g "$SERVICE_GROUP" "$STATE"
export HOME="$STATE"  # cloud-init may give none; eventlake's caches then land in the service's folder
cd "$STATE"           # cloud-init starts in /, which the service user cannot write

# ---- 3. the public names (IMDSv2) and the broker's settings
log "reading the public address from the instance metadata service"
names="$("$PY" -m eventlake.deploy.instance configure --imds "$IMDS" --port "$PORT" --state-dir "$STATE" --out "$CONF")"
read -r PUBLIC_IP PUBLIC_HOST <<<"$names"
log "public address $PUBLIC_IP, public DNS name $PUBLIC_HOST; settings in $CONF"
SANS=(--san "$PUBLIC_IP")
if [ "$PUBLIC_HOST" != "-" ]; then  # "-": the VPC gives no public DNS name
  SANS+=(--san "$PUBLIC_HOST")
fi

# ---- 4. passwords, made here and kept in root-only files
new_password() {
  local file="$SECRETS/$1"
  if [ ! -s "$file" ]; then  # a rerun keeps the passwords it published before
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$file.tmp" && mv "$file.tmp" "$file")
  fi
}
new_password "$ADMIN_USER"
new_password "$APP_USER"
# systemd reads EnvironmentFile as root before it drops to the service user: root-only is enough.
(
  umask 077
  {
    printf 'EVENTLAKE_BROKER__SASL_PASSWORD='
    cat "$SECRETS/$ADMIN_USER"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
)
chmod 600 "$ENV_FILE" "$SECRETS/$ADMIN_USER" "$SECRETS/$APP_USER"
log "passwords for $ADMIN_USER and $APP_USER are in $SECRETS (mode 600, root)"

# ---- 5. the CA and the broker certificate, with the public names
as_service "$EL" --config "$CONF" broker certs "${SANS[@]}"

# ---- 6. the broker: a systemd service on an instance, a plain start elsewhere
START_ARGS=(--config "$CONF" broker start)
if [ "$NODES" != "1" ]; then
  START_ARGS+=(--nodes "$NODES")
fi
# The unit is written on every machine (the tests read it); systemd runs it where it runs the machine.
install -d -m 755 "$(dirname "$UNIT_FILE")"
cat >"$UNIT_FILE.tmp" <<EOF
[Unit]
Description=eventlake Kafka broker (deployment $DEPLOYMENT)
After=network-online.target
Wants=network-online.target

[Service]
# broker start returns once the broker answers and leaves the JVM running: that JVM is the service.
Type=forking
User=$SERVICE_USER
Group=$SERVICE_GROUP
Environment=HOME=$STATE
WorkingDirectory=$STATE
# The admin's password, root-only; never in this file.
EnvironmentFile=$ENV_FILE
ExecStart=$EL ${START_ARGS[*]}
ExecStop=$EL --config $CONF broker stop
Restart=on-failure
RestartSec=5
TimeoutStartSec=600
TimeoutStopSec=90
LimitNOFILE=100000
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF
chmod 644 "$UNIT_FILE.tmp"
mv "$UNIT_FILE.tmp" "$UNIT_FILE"
if [ -z "$ROOT" ] && [ "$(cat /proc/1/comm 2>/dev/null)" = "systemd" ]; then
  log "starting $UNIT"
  systemctl daemon-reload
  systemctl enable --now "$UNIT"
  log "broker started by systemd ($UNIT, enabled at boot)"
else
  log "systemd is not running this machine (or EVENTLAKE_BOOTSTRAP_ROOT is set): starting the broker directly"
  as_service_with_secrets "$EL" "${START_ARGS[@]}"
fi

# ---- 7. the application user and its rights (over the loopback listener, as the super user)
as_service "$EL" --config "$CONF" users add "$APP_USER" --update --password-stdin <"$SECRETS/$APP_USER"
as_service "$EL" --config "$CONF" acl grant "$APP_USER" --topic "$TOPIC_PREFIX" --prefix --produce
as_service "$EL" --config "$CONF" acl grant "$APP_USER" --topic "$TOPIC_PREFIX" --prefix --consume \
  --group-prefix "$TOPIC_PREFIX"

# ---- 8. publish the CA and the passwords (SecureString) with the instance role
"$PY" -m eventlake.deploy.instance publish --deployment "$DEPLOYMENT" --region "$REGION" --prefix "$SSM_PREFIX" \
  --ca "$STATE/broker/tls/ca.pem" \
  --password "$ADMIN_USER=$SECRETS/$ADMIN_USER" --password "$APP_USER=$SECRETS/$APP_USER"

log "ready: $PUBLIC_IP:$PORT (SASL_SSL, SCRAM-SHA-512); user $APP_USER may use topics and groups starting $TOPIC_PREFIX"
log "CA and passwords: SSM Parameter Store $SSM_PREFIX/ca.pem and $SSM_PREFIX/users/*"
