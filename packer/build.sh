#!/bin/bash
# `make ami`: build the service wheel from the committed tree (HEAD), then `packer init` and
# `packer build`. Packer's output goes to stderr; stdout is only the AMI id, the argument of
# `opsctl bluegreen deploy ENV --ami`:   ami=$(make -s ami)
#
# Needs AWS credentials (the usual AWS_PROFILE / AWS_* variables) and packer >= 1.10 (the
# Debian packer 1.6.6 only validates; it cannot install the amazon plugin).
#
# Environment: AMI_ARCH (x86_64 | arm64, default x86_64), AWS_REGION (default eu-west-1),
#   PACKER (default packer), PYTHON (default .venv/bin/python), AMI_DIST (wheel directory,
#   default dist/), AMI_MANIFEST (default build/ami-manifest.json), PACKER_VARS (extra
#   arguments for packer build, e.g. "-var subnet_id=subnet-0abc").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKER="${PACKER:-packer}"
PYTHON="${PYTHON:-${REPO}/.venv/bin/python}"
AMI_ARCH="${AMI_ARCH:-x86_64}"
AMI_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-eu-west-1}}"
AMI_DIST="${AMI_DIST:-${REPO}/dist}"
AMI_MANIFEST="${AMI_MANIFEST:-${REPO}/build/ami-manifest.json}"
read -r -a EXTRA_VARS <<<"${PACKER_VARS:-}"

die() {
  echo "make ami: $*" >&2
  exit 1
}

packer_version="$("${PACKER}" version | head -n 1 | sed -n 's/^Packer v\([0-9.]*\).*/\1/p')"
[[ -n "${packer_version}" ]] || die "cannot run ${PACKER}"
if ! printf '%s\n%s\n' 1.10.0 "${packer_version}" | sort -V -C; then
  die "packer ${packer_version} is too old: install packer >= 1.10 from HashiCorp, or set PACKER=/path/to/packer"
fi

git_sha="$(git -C "${REPO}" rev-parse HEAD)"
if [[ -n "$(git -C "${REPO}" status --porcelain -- service opsctl pyproject.toml packer)" ]]; then
  echo "make ami: warning: uncommitted changes are not in the AMI (it is built from ${git_sha})" >&2
fi

# The wheel, from HEAD exactly, so the AMI's GitSha tag tells what it runs.
src="$(mktemp -d)"
trap 'rm -rf "${src}"' EXIT
git -C "${REPO}" archive --format=tar HEAD | tar -x -C "${src}"
mkdir -p "${AMI_DIST}" "$(dirname "${AMI_MANIFEST}")"
rm -f "${AMI_DIST}"/ingest_platform-*.whl
"${PYTHON}" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "${AMI_DIST}" "${src}" >&2
wheels=("${AMI_DIST}"/ingest_platform-*.whl)
[[ -f "${wheels[0]}" ]] || die "no wheel was built in ${AMI_DIST}"
wheel="${wheels[0]}"
version="$(basename "${wheel}" | cut -d- -f2)"

echo "make ami: ingest ${version} (${git_sha:0:12}) for ${AMI_ARCH} in ${AMI_REGION}" >&2
"${PACKER}" init "${REPO}/packer" >&2
"${PACKER}" build -color=false \
  -var "region=${AMI_REGION}" \
  -var "architecture=${AMI_ARCH}" \
  -var "app_version=${version}" \
  -var "git_sha=${git_sha}" \
  -var "wheel=${wheel}" \
  -var "manifest_path=${AMI_MANIFEST}" \
  "${EXTRA_VARS[@]}" \
  "${REPO}/packer" >&2

# The manifest keeps every build; the last run's artifact is "region:ami-...".
"${PYTHON}" - "${AMI_MANIFEST}" <<'PY'
import json
import sys

manifest = json.load(open(sys.argv[1]))
run = manifest["last_run_uuid"]
builds = [b for b in manifest["builds"] if b["packer_run_uuid"] == run]
if not builds:
    sys.exit(f"make ami: no build of run {run} in {sys.argv[1]}")
print(builds[-1]["artifact_id"].split(",")[0].split(":")[-1])
PY
