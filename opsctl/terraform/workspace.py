"""One environment's terraform working directory (build/<env>/): init, plan, apply, destroy.

Everything here is what the CLI commands share; the CLI adds prompts, output and exit codes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsctl import aws
from opsctl.config import Environment, env_file
from opsctl.local import emulator
from opsctl.paths import REPO
from opsctl.terraform import render, target_groups
from opsctl.terraform.plan_summary import Summary, summarise
from opsctl.terraform.runner import Terraform, TerraformError, plugin_dir

PLAN_FILE = "tfplan"
PLAN_META = "tfplan.meta.json"
HISTORY = ".opsctl-history.json"
BACKEND_FILE = "emulator.s3.tfbackend"
OPERATOR_SESSION_VARIABLE = "TF_VAR_operator_session"
Progress = Callable[[str], None]


@dataclass
class Workspace:
    env: Environment
    emulator_url: str | None = None
    folder: str = ""  # "bootstrap": the state bucket's own root module, with local state

    @property
    def dir(self) -> Path:
        return render.build_dir(self.env.name) / self.folder

    @property
    def has_backend(self) -> bool:
        return not self.folder

    @property
    def terraform(self) -> Terraform:
        # The provider's assume_role session (envs/templates/provider.jinja) names the operator.
        extra = {OPERATOR_SESSION_VARIABLE: aws.role_session_name()}
        if self.emulator_url:
            extra.update(emulator.DUMMY_CREDENTIALS)
        return Terraform(self.dir, env=extra)

    def prepare(self) -> list[render.Change]:
        """Render the root module and add or remove the emulator override."""
        changes = render.write(self.env, self.folder)
        override = self.dir / render.EMULATOR_OVERRIDE
        backend = self.dir / BACKEND_FILE
        if self.emulator_url:
            _write_if_changed(
                override, emulator.provider_override(self.emulator_url, self.env.region)
            )
            _write_if_changed(backend, emulator.backend_config(self.emulator_url))
        else:
            override.unlink(missing_ok=True)
            backend.unlink(missing_ok=True)
        return changes

    def init(self, progress: Progress) -> None:
        args = ["-reconfigure"]
        if self.emulator_url and self.has_backend:
            self._ensure_emulator_state_bucket()
            args.append(f"-backend-config={BACKEND_FILE}")
        self._run(["init", "-no-color", "-input=false", *self._mirror(), *args], progress)

    def plan(
        self, progress: Progress, destroy: bool = False, replace: list[str] | None = None
    ) -> tuple[int, Summary]:
        """Plan to build/<env>/tfplan; (0 no changes | 2 changes, summary). Raises on error."""
        (self.dir / PLAN_META).unlink(missing_ok=True)
        args = ["plan", "-no-color", "-input=false", "-detailed-exitcode", f"-out={PLAN_FILE}"]
        if destroy:
            args.append("-destroy")
        args += [f"-replace={address}" for address in replace or []]
        code = self._run(args, progress, ok=(0, 2))
        plan = self.terraform.show_json(PLAN_FILE)
        summary = summarise(plan)
        meta = {
            "fingerprint": fingerprint(self.env.name, self.emulator_url),
            "created_at": _now(),
            "emulator_url": self.emulator_url,
            "destroy": destroy,
            "summary": summary.as_dict(),
            "target_groups": target_groups.moves_of(plan).as_dict(),
        }
        (self.dir / PLAN_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return code, summary

    def saved_plan(self) -> dict[str, Any] | None:
        meta = self.dir / PLAN_META
        if not (meta.exists() and (self.dir / PLAN_FILE).exists()):
            return None
        return json.loads(meta.read_text(encoding="utf-8"))

    def stale_reason(self, meta: dict[str, Any]) -> str | None:
        """Why a saved plan no longer matches what is on disk, or None when it still does."""
        if meta.get("emulator_url") != self.emulator_url:
            return "it was made for another target (emulator vs. AWS)"
        if meta["fingerprint"] != fingerprint(self.env.name, self.emulator_url):
            return (
                f"envs/{self.env.name}.yaml, envs/templates/ or modules/ changed since it was made"
            )
        return None

    def apply_saved(self, progress: Progress) -> None:
        """Apply the saved plan; it is spent either way (terraform refuses to apply it twice)."""
        try:
            self._run(["apply", "-no-color", "-input=false", PLAN_FILE], progress)
        finally:
            self.discard_plan()

    def discard_plan(self) -> None:
        (self.dir / PLAN_FILE).unlink(missing_ok=True)
        (self.dir / PLAN_META).unlink(missing_ok=True)

    def outputs(self) -> dict[str, Any]:
        result = self.terraform.run("output", "-json", "-no-color")
        return {k: v["value"] for k, v in json.loads(result.stdout).items()}

    def record(self, command: str, outcome: str) -> None:
        history = self.history()
        history[command] = {"at": _now(), "outcome": outcome, "emulator": bool(self.emulator_url)}
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / HISTORY).write_text(json.dumps(history, indent=2), encoding="utf-8")

    def history(self) -> dict[str, Any]:
        path = self.dir / HISTORY
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _mirror(self) -> list[str]:

        mirror = plugin_dir()
        return [f"-plugin-dir={mirror}"] if mirror else []

    def _run(self, args: list[str], progress: Progress, ok: tuple[int, ...] = (0,)) -> int:
        code, output = self.terraform.stream(*args, on_line=progress)
        if code not in ok:
            raise TerraformError(args, code, output)
        return code

    def _ensure_emulator_state_bucket(self) -> None:
        """On the throwaway emulator the state bucket is made on first use (no bootstrap step)."""

        s3 = aws.client("s3", self.env.region, self.emulator_url, role_arn=self.env.assume_role_arn)
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if self.env.state.bucket not in existing:
            s3.create_bucket(
                Bucket=self.env.state.bucket,
                CreateBucketConfiguration={"LocationConstraint": self.env.region},
            )


def fingerprint(env_name: str, emulator_url: str | None) -> str:
    """Hash of everything a plan depends on in this repository: env file, templates, modules."""
    digest = hashlib.sha256()
    files = [env_file(env_name), *sorted((REPO / "envs" / "templates").rglob("*.j2"))]
    for path in sorted((REPO / "modules").rglob("*")):
        relative = path.relative_to(REPO / "modules").parts
        if path.is_file() and not any(p.startswith(".terraform") or p == "tests" for p in relative):
            files.append(path)
    for path in files:
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    digest.update((emulator_url or "").encode())
    return digest.hexdigest()


def _write_if_changed(path: Path, content: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def emulator_from(flag: str | None, env: Environment) -> str | None:
    """--emulator, else $OPSCTL_EMULATOR_URL, else the env file's emulator_url (local)."""
    return flag or os.environ.get("OPSCTL_EMULATOR_URL") or env.emulator_url
