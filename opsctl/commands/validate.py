"""`opsctl validate ENV | --all`."""

from __future__ import annotations

from typing import Annotated

import typer

from opsctl import config
from opsctl.terraform import checkov
from opsctl.terraform import render as renderer
from opsctl.terraform.runner import Terraform, TerraformError
from opsctl.ui import VerboseOpt, console, fail, load_env

app = typer.Typer()


@app.command()
def validate(
    env: Annotated[
        str | None, typer.Argument(envvar="OPSCTL_ENV", help="Environment (or --all).")
    ] = None,
    all_envs: Annotated[bool, typer.Option("--all", help="Every envs/*.yaml.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render, terraform fmt -check, terraform validate, checkov; stop at the first failure."""
    if not env and not all_envs:
        raise fail("name an environment or pass --all")
    names = config.available() if all_envs else [env or ""]
    out = console()
    for name in names:
        environment = load_env(name)
        problem = config.certificate_wait(environment)
        if problem:
            raise fail(problem)
        renderer.write(environment)
        workdir = renderer.build_dir(name)
        # A data dir of its own, so `init -backend=false` never reads the backend a past plan
        # initialised (e.g. a stopped emulator's state bucket).
        validate_data = workdir.parent / f".{name}-validate"
        tf = Terraform(workdir, env={"TF_DATA_DIR": str(validate_data)})
        try:
            tf.run("fmt", "-check", "-no-color", ".")
        except TerraformError as error:
            raise fail(f"{name}: rendered files are not fmt clean:\n{error.output}") from None
        try:
            tf.init(backend=False)
        except TerraformError as error:
            raise fail(f"{name}: terraform init failed:\n{error.output}") from None
        result = tf.validate()
        if not result["valid"]:
            messages = "\n".join(
                f"  {d['severity']}: {d['summary']} {d.get('detail', '')}"
                for d in result["diagnostics"]
            )
            raise fail(f"{name}: terraform validate failed:\n{messages}")
        report = checkov.scan(workdir)
        if report.failed:
            lines = "\n".join(
                f"  {f.check_id} {f.resource} ({f.file}): {f.name}" for f in report.failed
            )
            raise fail(f"{name}: checkov found {len(report.failed)} failed check(s):\n{lines}")
        out.print(f"[green]ok[/] {name}: fmt, validate, checkov ({report.passed} passed, 0 failed)")
