#!/bin/bash
# Provision the ingest AMI (run by packer as root on Amazon Linux 2023), or, with INSTALL_ROOT
# set, install the service and its files into that directory instead (tests; no packages, no
# users, no host changes outside INSTALL_ROOT). Safe to run again: every step converges.
#
# Environment:
#   INGEST_WHEEL   the service wheel to install (required)
#   INGEST_FILES   the packer/files directory (default: ../files next to this script)
#   INSTALL_ROOT   install under this directory instead of / (default: empty = this host)
#   INGEST_PYTHON  interpreter the venv is made from (default: python3.11 on the AMI,
#                  python3 under INSTALL_ROOT); must be Python 3.11 or newer
#   INGEST_VERSION, INGEST_GIT_SHA  recorded in /opt/ingest/BUILD
#   RDS_CA_BUNDLE  a local copy of the RDS CA bundle (default: downloaded on the AMI, skipped
#                  under INSTALL_ROOT)
set -euo pipefail

INSTALL_ROOT="${INSTALL_ROOT:-}"
INSTALL_ROOT="${INSTALL_ROOT%/}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INGEST_FILES="${INGEST_FILES:-${SCRIPT_DIR}/../files}"
INGEST_WHEEL="${INGEST_WHEEL:?INGEST_WHEEL must name the service wheel}"
INGEST_VERSION="${INGEST_VERSION:-unknown}"
INGEST_GIT_SHA="${INGEST_GIT_SHA:-unknown}"
if [[ -n "${INSTALL_ROOT}" ]]; then
  INGEST_PYTHON="${INGEST_PYTHON:-python3}"
else
  INGEST_PYTHON="${INGEST_PYTHON:-/usr/bin/python3.11}"
fi

PREFIX=/opt/ingest
VENV="${PREFIX}/venv"
UNITS=(ingest-web.service ingest-worker.service ingest-migrate.service)
ENABLED_UNITS=(ingest-web.service ingest-worker.service) # ingest-migrate runs on demand only
PACKAGES=(python3.11 python3.11-pip nginx amazon-cloudwatch-agent rsyslog logrotate dnf-automatic)

log() { printf '==> %s\n' "$*" >&2; }

# The path of $1 inside the install root.
target() { printf '%s%s' "${INSTALL_ROOT}" "$1"; }

on_host() { [[ -z "${INSTALL_ROOT}" ]]; }

# install_file MODE SOURCE DEST: copy a file from INGEST_FILES, creating parent directories.
install_file() {
  local mode="$1" source="${INGEST_FILES}/$2" dest
  dest="$(target "$3")"
  install -d -m 0755 "$(dirname "${dest}")"
  install -m "${mode}" "${source}" "${dest}"
}

# owned_dir MODE OWNER:GROUP DIR: ownership only applies on the host (the ingest user exists there).
owned_dir() {
  local mode="$1" owner="$2" dir
  dir="$(target "$3")"
  install -d -m "${mode}" "${dir}"
  if on_host; then
    chown "${owner}" "${dir}"
  fi
}

install_packages() {
  on_host || return 0
  log "packages: ${PACKAGES[*]}"
  # Start from the newest Amazon Linux 2023 release, not the one the base AMI was pinned to.
  dnf -y -q upgrade --releasever=latest
  dnf -y -q install --releasever=latest "${PACKAGES[@]}"
}

create_user() {
  on_host || return 0
  log "system user ingest"
  getent group ingest >/dev/null || groupadd --system ingest
  if ! getent passwd ingest >/dev/null; then
    useradd --system --gid ingest --home-dir /var/lib/ingest --no-create-home \
      --shell /sbin/nologin --comment "ingest service" ingest
  fi
}

install_service() {
  local venv python version
  venv="$(target "${VENV}")"
  python="$(command -v "${INGEST_PYTHON}")" || {
    echo "provision.sh: ${INGEST_PYTHON} not found" >&2
    exit 1
  }
  version="$("${python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" || {
    echo "provision.sh: ${python} does not run" >&2
    exit 1
  }
  if ! "${python}" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "provision.sh: the service needs Python 3.11 or newer, ${python} is ${version}" >&2
    exit 1
  fi
  log "venv ${venv} (Python ${version}), wheel $(basename "${INGEST_WHEEL}")"
  install -d -m 0755 "$(target "${PREFIX}")"
  if [[ ! -x "${venv}/bin/python" ]]; then
    "${python}" -m venv "${venv}"
  fi
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # Dependencies first, then the wheel itself again so a rebuilt wheel with an unchanged
  # version still replaces the installed one.
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${INGEST_WHEEL}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps --force-reinstall "${INGEST_WHEEL}"
  printf 'version=%s\ngit_sha=%s\nwheel=%s\n' \
    "${INGEST_VERSION}" "${INGEST_GIT_SHA}" "$(basename "${INGEST_WHEEL}")" \
    >"$(target "${PREFIX}/BUILD")"
  chmod 0644 "$(target "${PREFIX}/BUILD")"
}

install_files() {
  log "units, nginx, logrotate, sshd and dnf-automatic configuration"
  local unit
  for unit in "${UNITS[@]}"; do
    install_file 0644 "systemd/${unit}" "/etc/systemd/system/${unit}"
  done
  install_file 0644 nginx/nginx.conf /etc/nginx/nginx.conf
  install_file 0644 nginx/ingest.conf /etc/nginx/conf.d/ingest.conf
  install_file 0644 logrotate/ingest /etc/logrotate.d/ingest
  install_file 0600 ssh/01-ingest-hardening.conf /etc/ssh/sshd_config.d/01-ingest-hardening.conf
  install_file 0644 dnf/automatic.conf /etc/dnf/automatic.conf
  install_file 0644 dnf/releasever /etc/dnf/vars/releasever

  # /etc/ingest/env is written by user data at first boot; the directory is ready for it.
  owned_dir 0750 root:ingest /etc/ingest
  owned_dir 0750 ingest:ingest /var/lib/ingest
  owned_dir 0750 ingest:ingest /var/log/ingest
}

# The CA bundle the service verifies Aurora's certificate against: IAM database authentication
# sends its token as a clear-text password, so the service connects over verified TLS only
# (INGEST_DATABASE_SSL_CA, written by the compute module's user data). Fetched at build time
# from AWS's trust store; offline (INSTALL_ROOT), RDS_CA_BUNDLE may name a local copy.
RDS_CA_BUNDLE_URL="${RDS_CA_BUNDLE_URL:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"

install_rds_ca_bundle() {
  local dest
  dest="$(target "${PREFIX}/rds-global-bundle.pem")"
  if [[ -n "${RDS_CA_BUNDLE:-}" ]]; then
    install -m 0644 "${RDS_CA_BUNDLE}" "${dest}"
  elif on_host; then
    log "RDS CA bundle from ${RDS_CA_BUNDLE_URL}"
    curl -fsSL --retry 3 -o "${dest}.tmp" "${RDS_CA_BUNDLE_URL}"
    grep -q 'BEGIN CERTIFICATE' "${dest}.tmp" || {
      echo "provision.sh: ${RDS_CA_BUNDLE_URL} is not a PEM bundle" >&2
      exit 1
    }
    install -m 0644 "${dest}.tmp" "${dest}"
    rm -f "${dest}.tmp"
  fi
}

enable_services() {
  log "enable ${ENABLED_UNITS[*]}"
  if ! on_host; then
    # Offline: systemctl only creates the [Install] symlinks under the root.
    systemctl --root="${INSTALL_ROOT}" enable "${ENABLED_UNITS[@]}"
    return 0
  fi
  systemctl daemon-reload
  # The ingest units wait for /etc/ingest/env (ConditionPathExists), which user data writes;
  # the CloudWatch agent gets its configuration from user data too (fetch-config -s).
  systemctl enable "${ENABLED_UNITS[@]}" nginx.service rsyslog.service \
    amazon-cloudwatch-agent.service dnf-automatic.timer
}

verify_host() {
  on_host || return 0
  log "check configuration"
  nginx -t -q
  sshd -t
  if command -v setsebool >/dev/null && [[ "$(getenforce)" != Disabled ]]; then
    setsebool -P httpd_can_network_connect 1 # nginx -> uvicorn on 127.0.0.1:8080
  fi
  grep -q '/var/log/messages' /etc/rsyslog.conf || {
    echo "provision.sh: rsyslog does not write /var/log/messages (the agent ships it)" >&2
    exit 1
  }
  test -x /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
  test -s "${PREFIX}/rds-global-bundle.pem"
  sudo -u ingest "${VENV}/bin/ingest-service" --help >/dev/null
}

clean_up() {
  on_host || return 0
  log "clean up before the snapshot"
  dnf clean all -q
  rm -rf /var/cache/dnf/* /root/.cache/pip /tmp/ingest-build
  # Per-instance state must not be baked in: cloud-init runs again on every new instance
  # (user data, host keys), and packer's temporary key leaves with the build.
  cloud-init clean --logs
  rm -f /home/ec2-user/.ssh/authorized_keys /root/.ssh/authorized_keys
}

main() {
  install_packages
  create_user
  install_service
  install_files
  install_rds_ca_bundle
  enable_services
  verify_host
  clean_up
  log "done: ingest ${INGEST_VERSION} (${INGEST_GIT_SHA})"
}

main "$@"
