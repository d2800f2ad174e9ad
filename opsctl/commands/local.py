"""`opsctl local ami|status`: the local data plane (opsctl/local/dataplane/).

`ami` builds a wheel of a git ref and registers it in the emulator as an AMI (the id is the last
line on stdout, for `opsctl bluegreen deploy local --ami`); `status` shows what runs behind the
local load balancer: processes per colour, their AMI and health, the weights, requests served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from opsctl import aws
from opsctl.local.dataplane import amis, status
from opsctl.paths import REPO
from opsctl.ui import EmulatorOpt, JsonOpt, console, fail

app = typer.Typer(help="The local data plane: AMIs built from git, what serves behind the LB.")


@app.command("ami")
def local_ami(
    ref: Annotated[str, typer.Option("--ref", help="Git ref to build (default HEAD).")] = "HEAD",
    repo: Annotated[
        Path, typer.Option("--repo", help="Repository to build from (default this one).")
    ] = REPO,
    out: Annotated[
        Path, typer.Option("--out", help="Where wheels are kept (default var/amis).")
    ] = amis.DEFAULT_OUT,
    architecture: Annotated[str, typer.Option("--architecture")] = "x86_64",
    region: Annotated[str, typer.Option("--region")] = "eu-west-1",
    emulator: EmulatorOpt = None,
) -> None:
    """Build a wheel of REF and register it in the emulator as an AMI with packer's tags."""
    url = emulator or "http://127.0.0.1:4566"
    try:
        built = amis.build(ref, repo, out)
    except amis.BuildError as error:
        raise fail(f"local AMI of {ref}: {error}") from None
    ec2 = aws.client("ec2", region, url, role_arn=None)  # the emulator: no role to assume
    try:
        ami = amis.register(ec2, built, architecture)
    except Exception as error:  # the emulator is not running, ...
        raise fail(f"registering the AMI in {url}: {type(error).__name__}: {error}") from None
    console(stderr=True).print(
        f"{ami}: {built.wheel.name} of {built.sha[:12]} ({ref}); "
        f"`opsctl bluegreen deploy local --ami {ami}`",
        soft_wrap=True,
    )
    typer.echo(ami)


@app.command("status")
def local_status(
    admin: Annotated[
        str | None,
        typer.Option("--admin", envvar="OPSCTL_DATAPLANE_URL", help="The data plane's admin URL."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Processes per colour, their AMI, health, the current weights, requests served."""
    url = status.admin_url(admin)
    if url is None:
        raise fail("no local data plane running (start it with `make run-stack`), or pass --admin")
    try:
        found = status.fetch(url)
    except OSError as error:
        raise fail(f"the data plane at {url} does not answer: {error}") from None
    if json_output:
        typer.echo(json.dumps(found, indent=2))
        return
    _print(found)


def _print(found: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    endpoints = found.get("endpoints", {})
    weights = found.get("weights", {})
    served = found.get("served", {})
    out.print(
        f"load balancer {endpoints.get('load_balancer', '-')}  emulator "
        f"{endpoints.get('emulator', '-')}",
        soft_wrap=True,
    )
    out.print(
        "weights: "
        + ", ".join(f"{c} {w}%" for c, w in sorted(weights.items()))
        + "   served: "
        + (", ".join(f"{c} {n}" for c, n in sorted(served.items())) or "none")
        + "   answers: "
        + (", ".join(f"{s}: {n}" for s, n in sorted(found.get("statuses", {}).items())) or "none"),
        soft_wrap=True,
    )
    table = Table("colour", "instance", "AMI", "code", "port", "web / worker", "health", "served")
    for i in sorted(found.get("instances", []), key=lambda i: (i["colour"], i["id"])):
        procs = i["processes"]
        pids = " / ".join(
            f"{p['pid']}" + ("" if p["exit_code"] is None else f" (exit {p['exit_code']})")
            for p in (procs.get("web"), procs.get("worker"))
            if p
        )
        health = ", ".join(
            t["state"] + (f" ({t['reason']})" if t["reason"] else "") for t in i["targets"].values()
        )
        table.add_row(
            i["colour"],
            i["id"],
            i["ami"],
            Path(i["code"]).name if i["code"] != "checkout" else "checkout",
            str(i["port"]),
            pids + ("" if i["state"] == "running" else f" ({i['state']})"),
            health or "-",
            str(i["served"]),
        )
    out.print(table)
