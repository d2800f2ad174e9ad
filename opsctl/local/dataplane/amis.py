"""Local "AMIs": a wheel of the service built from a git ref, registered in the emulator as an
AMI with the tags packer/ingest.pkr.hcl sets (Name, Application, Version, GitSha,
Architecture, BuiltBy), in the emulator's account (the pre-flight owner check passes) and with
the wheel's path in `ingest:local-wheel` (instances.py runs that code).

The build is what `make ami` puts in /opt/ingest/venv, minus the OS and the dependencies:
`git archive REF` into a temporary folder, then the wheel of its packages (the files setuptools
puts in it, written directly, so no build backend or package index is needed). Wheels are cached
per commit under OUT/<sha>/.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tarfile
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsctl.local.dataplane.instances import WHEEL_TAG
from opsctl.paths import REPO

DEFAULT_OUT = REPO / "var" / "amis"
SOURCES = ("pyproject.toml", "opsctl", "service")


class BuildError(Exception):
    pass


@dataclass(frozen=True)
class Build:
    sha: str
    version: str
    wheel: Path


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def build(ref: str = "HEAD", repo: Path = REPO, out: Path = DEFAULT_OUT) -> Build:
    sha = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    folder = out / sha
    wheels = sorted(folder.glob("*.whl")) if folder.exists() else []
    if wheels:
        return Build(sha, wheels[-1].name.split("-")[1], wheels[-1])
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ami-local-") as tmp:
        archive = Path(tmp) / "src.tar"
        # Only what the wheel is made of (a checkout may hold symlinks such as .venv).
        _git(repo, "archive", "--format=tar", f"--output={archive}", sha, *SOURCES)
        source = Path(tmp) / "src"
        with tarfile.open(archive) as tar:
            tar.extractall(source, filter="data")
        wheel = _wheel(source, folder)
    return Build(sha, wheel.name.split("-")[1], wheel)


def _wheel(source: Path, folder: Path) -> Path:
    """The wheel setuptools makes of this project (pyproject.toml: the packages opsctl* and
    service*, their .py files), written directly: no build backend or index is needed."""
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for package in ("opsctl", "service"):
        for path in sorted((source / package).rglob("*.py")):
            files[path.relative_to(source).as_posix()] = path.read_bytes()
    requires = "".join(f"Requires-Dist: {d}\n" for d in project.get("dependencies", []))
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n{requires}"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: opsctl local ami\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    scripts = project.get("scripts", {})
    files[f"{info}/entry_points.txt"] = (
        "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
    ).encode()
    record = []
    for member, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    partial = wheel.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    partial.rename(wheel)
    return wheel


def register(ec2: Any, built: Build, architecture: str = "x86_64") -> str:
    """RegisterImage + the packer tags; returns the AMI id."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    unique = time.monotonic_ns() % 10**6
    name = f"ingest-{built.version}-{architecture}-{stamp}-{built.sha[:7]}-{unique}"
    image = ec2.register_image(
        Name=name,
        Description=f"local build of {built.sha[:12]} ({built.wheel.name})",
        Architecture=architecture,
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
    )
    ami = str(image["ImageId"])
    tags = {
        "Name": name,
        "Application": "ingest",
        "Version": built.version,
        "GitSha": built.sha,
        "Architecture": architecture,
        "BuiltBy": "opsctl local ami",
        WHEEL_TAG: str(built.wheel),
    }
    ec2.create_tags(Resources=[ami], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return ami
