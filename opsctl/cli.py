"""opsctl: the operators' CLI.

Commands import their heavy dependencies inside the function so `opsctl --help` stays fast.
Exit codes are a contract (opsctl/exitcodes.py): 0 ok, 1 error, 2 changes, 3 locked, 4 aborted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

T = TypeVar("T")

if TYPE_CHECKING:
    from rich.console import Console

    from opsctl.config import Environment
    from opsctl.plan_summary import Summary
    from opsctl.workspace import Workspace

app = typer.Typer(
    help="Operate the ingestion stack: environments, modules, deployments, migrations, runbooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
modules_app = typer.Typer(help="Terraform modules under modules/.", no_args_is_help=True)
app.add_typer(modules_app, name="modules")

EnvArg = Annotated[
    str,
    typer.Argument(
        envvar="OPSCTL_ENV", help="Environment: a file envs/ENV.yaml ($OPSCTL_ENV by default)."
    ),
]
EmulatorOpt = Annotated[
    str | None,
    typer.Option(
        "--emulator",
        envvar="OPSCTL_EMULATOR_URL",
        help="Talk to a local AWS emulator (moto server) at this URL with dummy credentials.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Stream terraform's output.")]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Answer the confirmation (required for prod in CI).")
]
ModuleDirs = Annotated[
    list[Path] | None, typer.Argument(help="Module folders (default: all).", show_default=False)
]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def _load(name: str) -> Environment:
    from opsctl.config import ConfigError, load

    try:
        return load(name)
    except ConfigError as error:
        for problem in error.problems:
            _console(stderr=True).print(problem, style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1) from None


def _workspace(name: str, emulator: str | None) -> Workspace:
    from opsctl.workspace import Workspace, emulator_from

    env = _load(name)
    return Workspace(env, emulator_from(emulator, env))


class _Progress:
    """Terraform's output: streamed with --verbose, else a spinner showing the latest step."""

    def __init__(self, title: str, verbose: bool) -> None:
        self.title, self.verbose = title, verbose
        self.console = _console(stderr=True)
        self.status = None if verbose else self.console.status(title)

    def __enter__(self) -> _Progress:
        if self.status is not None:
            self.status.start()
        else:
            self.console.print(f"[bold]{self.title}[/]")
        return self

    def __call__(self, line: str) -> None:
        if self.verbose:
            self.console.print(line, markup=False, highlight=False)
        elif self.status is not None and line.strip():
            self.status.update(f"{self.title}  [dim]{line.strip()[:90]}[/]")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()


def _terraform_step(title: str, verbose: bool, step: Callable[[_Progress], T]) -> T:
    """Run one workspace step; on failure show terraform's whole output and exit 1."""
    from opsctl.terraform import TerraformError

    with _Progress(title, verbose) as progress:
        try:
            return step(progress)
        except TerraformError as error:
            console = _console(stderr=True)
            if not verbose:
                console.print(error.output, markup=False, highlight=False)
            raise _fail(str(error)) from None
        except FileNotFoundError as error:
            raise _fail(str(error)) from None


def _print_summary(summary: Summary, env: Environment, target: str) -> None:
    from rich.table import Table

    console = _console()
    if not summary.has_changes:
        console.print(f"[green]No changes.[/] {env.name} ({target}) matches the configuration.")
        return
    table = Table(title=f"Plan for {env.name} ({target})", title_justify="left")
    table.add_column("module")
    for action in ("create", "update", "replace", "destroy"):
        table.add_column(action, justify="right")
    for module, counts in summary.by_module.items():
        table.add_row(module, *(str(counts[a] or "") for a in counts))
    table.add_row("[bold]total[/]", *(f"[bold]{n}[/]" for n in summary.totals.values()))
    console.print(table)
    if summary.stateful:
        console.print(
            "[bold red]!! Stateful resources would be destroyed or replaced (data loss):[/]"
        )
        for hazard in summary.stateful:
            console.print(f"[bold red]   {hazard.action:8} {hazard.address}[/]", markup=True)


def _confirm(env: Environment, action: str, yes: bool) -> None:
    """Prod needs the environment's name typed (or --yes); others a y/N (or --yes)."""
    from opsctl.exitcodes import Exit

    if yes:
        return
    if not sys.stdin.isatty():
        raise _fail(f"{action} {env.name} needs confirmation: pass --yes", Exit.ABORTED)
    if env.is_prod:
        typed = typer.prompt(f"Type the environment name ({env.name}) to {action} it")
        if typed.strip() != env.name:
            raise _fail("confirmation did not match; nothing done", Exit.ABORTED)
    elif not typer.confirm(f"{action} {env.name}?", default=False):
        raise _fail("aborted; nothing done", Exit.ABORTED)


def _target(ws: Workspace) -> str:
    return f"emulator {ws.emulator_url}" if ws.emulator_url else f"account {ws.env.account_id}"


@app.command()
def render(
    env: EnvArg,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Render envs/ENV.yaml into build/ENV/ (only changed files are rewritten)."""
    from opsctl import render as renderer

    environment = _load(env)
    if diff:
        changes = renderer.changes(environment, renderer.render(environment))
        for change in changes:
            typer.echo(change.diff, nl=False)
        if not changes:
            typer.echo(f"build/{env}/ is up to date")
        raise typer.Exit(2 if changes else 0)
    changes = renderer.write(environment)
    for change in changes:
        typer.echo(f"{change.kind:7} {change.path.relative_to(renderer.BUILD.parent)}")
    typer.echo(f"build/{env}/: {len(changes)} file(s) changed")


@app.command()
def validate(
    env: Annotated[
        str | None, typer.Argument(envvar="OPSCTL_ENV", help="Environment (or --all).")
    ] = None,
    all_envs: Annotated[bool, typer.Option("--all", help="Every envs/*.yaml.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render, terraform fmt -check, terraform validate, checkov; stop at the first failure."""
    from opsctl import checkov, config
    from opsctl import render as renderer
    from opsctl.terraform import Terraform, TerraformError

    if not env and not all_envs:
        raise _fail("name an environment or pass --all")
    names = config.available() if all_envs else [env or ""]
    console = _console()
    for name in names:
        environment = _load(name)
        renderer.write(environment)
        workdir = renderer.build_dir(name)
        tf = Terraform(workdir)
        try:
            tf.run("fmt", "-check", "-no-color", ".")
        except TerraformError as error:
            raise _fail(f"{name}: rendered files are not fmt clean:\n{error.output}") from None
        try:
            tf.init(backend=False)
        except TerraformError as error:
            raise _fail(f"{name}: terraform init failed:\n{error.output}") from None
        result = tf.validate()
        if not result["valid"]:
            messages = "\n".join(
                f"  {d['severity']}: {d['summary']} {d.get('detail', '')}"
                for d in result["diagnostics"]
            )
            raise _fail(f"{name}: terraform validate failed:\n{messages}")
        report = checkov.scan(workdir)
        if report.failed:
            lines = "\n".join(
                f"  {f.check_id} {f.resource} ({f.file}): {f.name}" for f in report.failed
            )
            raise _fail(f"{name}: checkov found {len(report.failed)} failed check(s):\n{lines}")
        console.print(
            f"[green]ok[/] {name}: fmt, validate, checkov ({report.passed} passed, 0 failed)"
        )


@app.command()
def plan(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    replace: Annotated[
        list[str] | None,
        typer.Option(
            "--replace",
            metavar="ADDRESS",
            help="Force replacing this resource (terraform -replace).",
        ),
    ] = None,
    json_output: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Plan ENV to a saved plan and summarise it. Exit 0 no changes, 2 changes pending, 1 error."""
    import json

    ws = _workspace(env, emulator)
    ws.prepare()
    _terraform_step(f"terraform init ({env})", verbose, ws.init)
    code, summary = _terraform_step(
        f"terraform plan ({env})", verbose, lambda p: ws.plan(p, replace=replace or [])
    )
    ws.record("plan", "changes pending" if code == 2 else "no changes")
    if json_output:
        typer.echo(json.dumps({"env": env, "target": _target(ws)} | summary.as_dict(), indent=2))
    else:
        _print_summary(summary, ws.env, _target(ws))
        if code == 2:
            _console().print(f"Saved plan: build/{env}/tfplan   apply it with: opsctl apply {env}")
    raise typer.Exit(code)


@app.command()
def apply(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    allow_destroy: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-destroy",
            metavar="ADDRESS",
            help="Allow destroying/replacing this stateful resource (repeat per address).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and check; apply nothing.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Apply the saved plan if it is still current; with none, plan first and ask."""
    from opsctl.exitcodes import Exit
    from opsctl.plan_summary import Hazard, Summary

    ws = _workspace(env, emulator)
    meta = ws.saved_plan()
    if meta is not None:
        reason = ws.stale_reason(meta)
        if reason:
            raise _fail(
                f"the saved plan for {env} is stale: {reason}. Run `opsctl plan {env}` again.",
                Exit.ABORTED,
            )
        raw = meta["summary"]
        summary = Summary(
            by_module=raw["by_module"],
            totals=raw["totals"],
            stateful=[Hazard(**h) for h in raw["stateful"]],
            resource_types=raw["resource_types"],
        )
        _console().print(f"Using the saved plan from {meta['created_at']}.")
    else:
        ws.prepare()
        _terraform_step(f"terraform init ({env})", verbose, ws.init)
        _, summary = _terraform_step(f"terraform plan ({env})", verbose, ws.plan)
    _print_summary(summary, ws.env, _target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    allowed = set(allow_destroy or [])
    blocked = [h for h in summary.stateful if h.address not in allowed]
    if blocked:
        hint = " ".join(f"--allow-destroy '{h.address}'" for h in blocked)
        raise _fail(
            f"refusing to {blocked[0].action} stateful resources without an explicit allowance; "
            f"if that is intended, re-run with: {hint}",
            Exit.ABORTED,
        )
    if dry_run:
        _console().print("Dry run: nothing applied (the plan stays saved).")
        raise typer.Exit(Exit.CHANGES)
    _confirm(ws.env, "apply to", yes)
    try:
        _terraform_step(f"terraform apply ({env})", verbose, ws.apply_saved)
    except typer.Exit:
        ws.record("apply", "failed")
        raise
    ws.record("apply", "applied")
    _console().print(f"[green]Applied.[/] {env} ({_target(ws)})")


@app.command()
def destroy(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Destroy every resource of ENV (refused for prod)."""
    from opsctl.exitcodes import Exit

    ws = _workspace(env, emulator)
    if ws.env.is_prod:
        raise _fail("opsctl destroy is refused for prod", Exit.ABORTED)
    ws.prepare()
    _terraform_step(f"terraform init ({env})", verbose, ws.init)
    _, summary = _terraform_step(
        f"terraform plan -destroy ({env})", verbose, lambda p: ws.plan(p, destroy=True)
    )
    _print_summary(summary, ws.env, _target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    _confirm(ws.env, "destroy", yes)
    _terraform_step(f"terraform destroy ({env})", verbose, ws.apply_saved)
    ws.record("apply", "destroyed")
    _console().print(f"[green]Destroyed.[/] {env} ({_target(ws)})")


@app.command()
def output(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    json_output: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show ENV's terraform outputs."""
    import json

    ws = _workspace(env, emulator)
    ws.prepare()
    _terraform_step(f"terraform init ({env})", verbose, ws.init)
    values = _terraform_step("terraform output", verbose, lambda _p: ws.outputs())
    if json_output:
        typer.echo(json.dumps(values, indent=2))
        return
    for key, value in values.items():
        typer.echo(f"{key} = {json.dumps(value)}")


@app.command()
def bootstrap(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create ENV's state bucket (modules/state-backend; local state in build/ENV/bootstrap)."""
    from opsctl.exitcodes import Exit
    from opsctl.workspace import Workspace, emulator_from

    environment = _load(env)
    ws = Workspace(environment, emulator_from(emulator, environment), folder="bootstrap")
    ws.prepare()
    _terraform_step(f"terraform init (bootstrap {env})", verbose, ws.init)
    _, summary = _terraform_step(f"terraform plan (bootstrap {env})", verbose, ws.plan)
    _print_summary(summary, ws.env, _target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    _confirm(ws.env, "create the state bucket of", yes)
    _terraform_step(f"terraform apply (bootstrap {env})", verbose, ws.apply_saved)
    _console().print(f"[green]State bucket ready:[/] {environment.state.bucket}")


@app.command()
def graph(
    env: EnvArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="SVG path (default build/ENV/architecture.svg)."),
    ] = None,
    dot: Annotated[bool, typer.Option("--dot", help="Print the graphviz source instead.")] = False,
) -> None:
    """Draw ENV's architecture (VPC tiers, ALB, both colours, Aurora, S3/SQS, alarms -> SNS)."""
    from opsctl import graph as drawing
    from opsctl import render as renderer

    environment = _load(env)
    if dot:
        typer.echo(drawing.dot_source(environment), nl=False)
        return
    target = output or renderer.build_dir(env) / "architecture.svg"
    try:
        drawing.render_svg(environment, target)
    except FileNotFoundError as error:
        raise _fail(str(error)) from None
    typer.echo(f"wrote {target}")


@app.command()
def envs(json_output: JsonOpt = False) -> None:
    """List environments: region, account, last plan and apply."""
    import json

    from rich.table import Table

    from opsctl import config
    from opsctl.workspace import Workspace

    rows: list[dict[str, Any]] = []
    for name in config.available():
        try:
            environment = config.load(name)
        except config.ConfigError as error:
            rows.append({"env": name, "error": error.problems[0]})
            continue
        history = Workspace(environment).history()
        rows.append(
            {
                "env": name,
                "region": environment.region,
                "account": environment.account_id,
                "last_plan": history.get("plan"),
                "last_apply": history.get("apply"),
            }
        )
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return

    def when(entry: dict[str, Any] | None) -> str:
        return f"{entry['at']} {entry['outcome']}" if entry else "-"

    table = Table("env", "region", "account", "last plan", "last apply")
    for row in rows:
        if "error" in row:
            table.add_row(row["env"], f"[red]{row['error']}[/]", "", "", "")
        else:
            table.add_row(
                row["env"],
                row["region"],
                row["account"],
                when(row["last_plan"]),
                when(row["last_apply"]),
            )
    _console().print(table)


@modules_app.command("docs")
def modules_docs(
    module: ModuleDirs = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a table is stale.")] = False,
) -> None:
    """Regenerate the inputs/outputs table in each module's README.md."""
    from opsctl import module_docs

    args = ["--check"] if check else []
    raise typer.Exit(module_docs.main(args + [str(m) for m in module or []]))


@modules_app.command("schema-check")
def modules_schema_check(module: ModuleDirs = None) -> None:
    """Check that modules use only arguments that also exist in AWS provider 6.x."""
    from opsctl.module_docs import REPO
    from opsctl.provider_schema import check_module

    dirs = module or sorted(p for p in (REPO / "modules").iterdir() if p.is_dir())
    problems = [f"{d.name}: {p}" for d in dirs for p in check_module(d)]
    for problem in problems:
        typer.echo(problem, err=True)
    raise typer.Exit(1 if problems else 0)
