"""`opsctl envs`: every environment with its region, account, last plan and apply."""

from __future__ import annotations

import json
from typing import Any

import typer

from opsctl import config
from opsctl.terraform.workspace import Workspace
from opsctl.ui import JsonOpt, console

app = typer.Typer()


@app.command()
def envs(json_output: JsonOpt = False) -> None:
    """List environments: region, account, last plan and apply."""
    from rich.table import Table

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
