"""The AWS clients a blue/green run uses. Tests wrap them to inject what moto cannot do
(unhealthy targets) and to record or break calls; the engine only ever talks through this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsctl import aws


@dataclass
class Clients:
    autoscaling: Any
    elbv2: Any
    ec2: Any
    cloudwatch: Any
    ssm: Any
    s3: Any

    @classmethod
    def create(
        cls, region: str, emulator_url: str | None, *, role_arn: str | None = None
    ) -> Clients:

        return cls(
            **{
                name: aws.client(name, region, emulator_url, role_arn=role_arn)
                for name in ("autoscaling", "elbv2", "ec2", "cloudwatch", "ssm", "s3")
            }
        )
