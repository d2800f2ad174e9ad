"""An AWS environment: `ingest-service schema ...` on one InService instance of the live colour
through SSM Run Command (opsctl/migrate/remote.py), with the instance's own settings. Writing
commands hold the environment lock around it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from opsctl import aws
from opsctl.aws import emulator_from
from opsctl.bluegreen.connect import open_engine
from opsctl.bluegreen.stack import StackError
from opsctl.exitcodes import Exit
from opsctl.lock import cli_lock
from opsctl.migrate import remote
from opsctl.migrate.target import Outcome, TargetError
from opsctl.ui import ConsoleReport, console

if TYPE_CHECKING:
    from opsctl.config import Environment


class SsmTarget:
    def __init__(self, environment: Environment, emulator: str | None) -> None:
        self.environment, self.emulator = environment, emulator
        self.env = environment.name
        self.heading: str | None = None  # the "Running on ..." line (stderr) names the target
        self.context: dict[str, Any] = {}

    def lock(self, command: str) -> AbstractContextManager[object]:
        url = emulator_from(self.emulator, self.environment)
        role = self.environment.assume_role_arn
        return cli_lock(self.env, self.environment.region, url, command, role_arn=role)

    def run(self, action: str, args: list[str]) -> Outcome:
        from botocore.exceptions import BotoCoreError, ClientError

        report = ConsoleReport()
        url = emulator_from(self.emulator, self.environment)
        try:
            engine = open_engine(self.environment, self.emulator, report)
            target = remote.find_target(engine)
            lines = remote.command_lines(action, args)
            console(stderr=True).print(
                f"Running on {target.instance_id} ({target.colour}, {target.asg}) via SSM: "
                f"ingest-service schema {action} {' '.join(args)}".rstrip(),
                soft_wrap=True,
            )
            try:
                got = remote.run(
                    engine.aws.ssm,
                    target,
                    lines,
                    f"opsctl migrate {action} {self.env}",
                    progress=report.progress,
                    logs=aws.client(
                        "logs",
                        self.environment.region,
                        url,
                        role_arn=self.environment.assume_role_arn,
                    ),
                    group=remote.log_group(self.env),
                    autoscaling=engine.aws.autoscaling,
                )
            finally:
                report.close()
        except KeyboardInterrupt:  # remote.run cancelled the command and waited for it to stop
            interrupted = (
                f"error: migrate {action} {self.env} interrupted: the SSM command was cancelled "
                "and has stopped; see `opsctl migrate status` before retrying\n"
            )
            return Outcome(Exit.ABORTED, "", interrupted)
        except (remote.RemoteError, StackError) as error:
            raise TargetError(f"migrate {action} {self.env}: {error}") from None
        except ClientError as error:
            raise TargetError(f"migrate {action} {self.env}: AWS refused a call: {error}") from None
        except BotoCoreError as error:
            raise TargetError(f"migrate {action} {self.env}: cannot reach AWS: {error}") from None
        if got.status != "Success" and got.code == 0:  # e.g. Cancelled: no exit code to pass on
            ended = f"error: the SSM command {got.command_id} ended {got.status}\n"
            return Outcome(1, got.stdout, got.stderr + ended)
        return Outcome(got.code, got.stdout, got.stderr)
