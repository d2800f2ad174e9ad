"""opsctl: the operators' CLI.

Commands import their heavy dependencies inside the function so `opsctl --help` stays fast.
Exit codes are a contract (opsctl/exitcodes.py): 0 ok, 1 error, 2 changes, 3 locked, 4 aborted,
5 rolled back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsctl import bluegreen_cli, migrate_cli, runbook_cli
from opsctl.ui import (
    EmulatorOpt,
    EnvArg,
    JsonOpt,
    VerboseOpt,
    YesOpt,
    confirm,
    console,
    fail,
    load_env,
    terraform_step,
)

if TYPE_CHECKING:
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
app.add_typer(bluegreen_cli.bluegreen_app, name="bluegreen")
app.add_typer(bluegreen_cli.lock_app, name="lock")
app.command("release")(bluegreen_cli.release)
app.add_typer(migrate_cli.migrate_app, name="migrate")
app.add_typer(runbook_cli.runbook_app, name="runbook")
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Plan and show what would change; change nothing.")
]
ModuleDirs = Annotated[
    list[Path] | None, typer.Argument(help="Module folders (default: all).", show_default=False)
]


def _workspace(name: str, emulator: str | None) -> Workspace:
    from opsctl.workspace import Workspace, emulator_from

    env = load_env(name)
    return Workspace(env, emulator_from(emulator, env))


def _print_summary(summary: Summary, env: Environment, target: str) -> None:
    from rich.table import Table

    out = console()
    if not summary.has_changes:
        out.print(f"[green]No changes.[/] {env.name} ({target}) matches the configuration.")
        return
    table = Table(title=f"Plan for {env.name} ({target})", title_justify="left")
    table.add_column("module")
    for action in ("create", "update", "replace", "destroy"):
        table.add_column(action, justify="right")
    for module, counts in summary.by_module.items():
        table.add_row(module, *(str(counts[a] or "") for a in counts))
    table.add_row("[bold]total[/]", *(f"[bold]{n}[/]" for n in summary.totals.values()))
    out.print(table)
    if summary.stateful:
        out.print("[bold red]!! Stateful resources would be destroyed or replaced (data loss):[/]")
        for hazard in summary.stateful:
            out.print(f"[bold red]   {hazard.action:8} {hazard.address}[/]", markup=True)


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

    environment = load_env(env)
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
        raise fail("name an environment or pass --all")
    names = config.available() if all_envs else [env or ""]
    out = console()
    for name in names:
        environment = load_env(name)
        renderer.write(environment)
        workdir = renderer.build_dir(name)
        # Issue 16, finding 18: a data dir of its own, so `init -backend=false` never reads the
        # backend a past plan initialised (e.g. a stopped emulator's state bucket).
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
    terraform_step(f"terraform init ({env})", verbose, ws.init)
    code, summary = terraform_step(
        f"terraform plan ({env})", verbose, lambda p: ws.plan(p, replace=replace or [])
    )
    ws.record("plan", "changes pending" if code == 2 else "no changes")
    if json_output:
        typer.echo(json.dumps({"env": env, "target": _target(ws)} | summary.as_dict(), indent=2))
    else:
        _print_summary(summary, ws.env, _target(ws))
        if code == 2:
            again = f" --emulator {ws.emulator_url}" if emulator else ""
            console().print(f"Saved plan: build/{env}/tfplan   apply it: opsctl apply {env}{again}")
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
    dry_run: DryRunOpt = False,
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
            raise fail(
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
        console().print(f"Using the saved plan from {meta['created_at']}.")
    else:
        ws.prepare()
        terraform_step(f"terraform init ({env})", verbose, ws.init)
        _, summary = terraform_step(f"terraform plan ({env})", verbose, ws.plan)
    _print_summary(summary, ws.env, _target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    allowed = set(allow_destroy or [])
    blocked = [h for h in summary.stateful if h.address not in allowed]
    if blocked:
        hint = " ".join(f"--allow-destroy '{h.address}'" for h in blocked)
        raise fail(
            f"refusing to {blocked[0].action} stateful resources without an explicit allowance; "
            f"if that is intended, re-run with: {hint}",
            Exit.ABORTED,
        )
    if dry_run:
        console().print("Dry run: nothing applied (the plan stays saved).")
        raise typer.Exit(Exit.CHANGES)
    confirm(ws.env, "apply to", yes)
    from opsctl.lock import cli_lock

    with cli_lock(env, ws.env.region, ws.emulator_url, "apply"):
        try:
            terraform_step(f"terraform apply ({env})", verbose, ws.apply_saved)
        except typer.Exit:
            ws.record("apply", "failed")
            raise
    ws.record("apply", "applied")
    console().print(f"[green]Applied.[/] {env} ({_target(ws)})")


@app.command()
def destroy(
    env: EnvArg,
    emulator: EmulatorOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Destroy every resource of ENV (refused for prod), then opsctl's blue/green records."""
    from opsctl import aws
    from opsctl.bluegreen import record
    from opsctl.exitcodes import Exit

    ws = _workspace(env, emulator)
    if ws.env.is_prod:
        raise fail("opsctl destroy is refused for prod", Exit.ABORTED)
    _plan_confirm_apply(ws, "destroy", yes, dry_run, verbose, destroy=True)
    ws.record("apply", "destroyed")
    console().print(f"[green]Destroyed.[/] {env} ({_target(ws)})")
    forgotten = record.forget(aws.client("ssm", ws.env.region, ws.emulator_url), env)
    if forgotten:
        console().print(f"Removed opsctl's blue/green records: {', '.join(forgotten)}")


def _plan_confirm_apply(
    ws: Workspace, action: str, yes: bool, dry_run: bool, verbose: bool, destroy: bool = False
) -> None:
    """Plan, show the summary, stop there on no changes or --dry-run, else ask and apply."""
    from opsctl.exitcodes import Exit
    from opsctl.lock import cli_lock

    name = ws.env.name
    ws.prepare()
    terraform_step(f"terraform init ({name})", verbose, ws.init)
    _, summary = terraform_step(
        f"terraform plan ({action} {name})", verbose, lambda p: ws.plan(p, destroy=destroy)
    )
    _print_summary(summary, ws.env, _target(ws))
    if not summary.has_changes:
        ws.discard_plan()
        raise typer.Exit(Exit.OK)
    if dry_run:
        ws.discard_plan()
        console().print("Dry run: nothing changed.")
        raise typer.Exit(Exit.CHANGES)
    confirm(ws.env, action, yes)
    with cli_lock(name, ws.env.region, ws.emulator_url, action):
        terraform_step(f"terraform apply ({action} {name})", verbose, ws.apply_saved)


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
    terraform_step(f"terraform init ({env})", verbose, ws.init)
    values = terraform_step("terraform output", verbose, lambda _p: ws.outputs())
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
    dry_run: DryRunOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create ENV's state bucket (modules/state-backend; local state in build/ENV/bootstrap)."""
    from opsctl.workspace import Workspace, emulator_from

    environment = load_env(env)
    ws = Workspace(environment, emulator_from(emulator, environment), folder="bootstrap")
    _plan_confirm_apply(ws, "create the state bucket of", yes, dry_run, verbose)
    console().print(f"[green]State bucket ready:[/] {environment.state.bucket}")


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

    environment = load_env(env)
    if dot:
        typer.echo(drawing.dot_source(environment), nl=False)
        return
    target = output or renderer.build_dir(env) / "architecture.svg"
    try:
        drawing.render_svg(environment, target)
    except FileNotFoundError as error:
        raise fail(str(error)) from None
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
    console().print(table)


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
