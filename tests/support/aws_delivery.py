"""What AWS services write into an environment's buckets by themselves, written where and as
they write it, on the emulator.

- Elastic Load Balancing: when access logging is turned on it writes
  `[prefix/]AWSLogs/ACCOUNT/ELBAccessLogTestFile`, then a log file per node every 5 minutes under
  `[prefix/]AWSLogs/ACCOUNT/elasticloadbalancing/REGION/yyyy/mm/dd/...log.gz`, as the service
  principal `logdelivery.elasticloadbalancing.amazonaws.com`, with SSE-S3
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html,
  .../load-balancer-access-logs.html).
- AWS Config: history and snapshot files under `[prefix/]AWSLogs/ACCOUNT/Config/REGION/yyyy/m/d/`
  (ConfigHistory/, ConfigSnapshot/), as `config.amazonaws.com`, encrypted with the channel's
  KMS key, ACL `bucket-owner-full-control`
  (https://docs.aws.amazon.com/config/latest/developerguide/example-configuration-history-notification.html,
  https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-policy.html).

The seam, named for the AWS behaviour it plays: `as_delivery_service`. On AWS those services
write past the bucket policy because it admits them (their service principal, over TLS, with
`aws:SourceAccount`). moto 5.2.5 cannot evaluate a condition: every object call that a statement
with a condition covers is denied (docs/emulator.md), so the test's own writes would be refused.
`as_delivery_service` first checks that the policy admits the service for those keys (so a broken
policy still fails the test, as delivery would fail on AWS), lifts it for the writes and puts the
identical document back, which terraform then sees as no change.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

ELB_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
CONFIG_SERVICE = "config.amazonaws.com"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def admits(policy: dict[str, Any], service: str, action: str, arn: str) -> bool:
    """Whether an Allow statement of `policy` gives `service` `action` on `arn`."""
    for statement in _listed(policy.get("Statement", [])):
        principal = statement.get("Principal", {})
        services = _listed(principal.get("Service", [])) if isinstance(principal, dict) else []
        if statement.get("Effect") != "Allow" or service not in services:
            continue
        actions = _listed(statement.get("Action", []))
        resources = _listed(statement.get("Resource", []))
        if any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
            fnmatch.fnmatchcase(arn, r) for r in resources
        ):
            return True
    return False


@contextmanager
def as_delivery_service(s3: Any, bucket: str, service: str, keys: list[str]) -> Iterator[None]:
    """Write `keys` into `bucket` as `service` would: refused unless the bucket policy admits
    the service's PutObject on each key; the policy is lifted for the writes and put back."""
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    for key in keys:
        arn = f"arn:aws:s3:::{bucket}/{key}"
        assert admits(json.loads(policy), service, "s3:PutObject", arn), (
            f"the policy of {bucket} does not let {service} write {key}: delivery fails on AWS"
        )
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        yield
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)


def elb_access_logs(s3: Any, elbv2: Any, load_balancer_arn: str, account: str) -> list[str]:
    """What ELB writes once access logging is on: the test file (twice, as turning logging on
    again would: a second version in the versioned bucket) and one log file. Bucket and prefix
    are read from the load balancer's attributes, where ELB reads them."""
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)[
            "Attributes"
        ]
    }
    assert attributes["access_logs.s3.enabled"] == "true"
    bucket, prefix = attributes["access_logs.s3.bucket"], attributes["access_logs.s3.prefix"]
    base = f"{prefix}/AWSLogs/{account}" if prefix else f"AWSLogs/{account}"
    region = load_balancer_arn.split(":")[3]
    lb_id = load_balancer_arn.split(":loadbalancer/")[1].replace("/", ".")
    now = datetime.now(UTC)
    test_file = f"{base}/ELBAccessLogTestFile"
    log = (
        f"{base}/elasticloadbalancing/{region}/{now:%Y/%m/%d}/{account}_elasticloadbalancing_"
        f"{region}_{lb_id}_{now:%Y%m%dT%H%MZ}_10.10.0.5_x1y2z3.log.gz"
    )
    line = f'https {now.isoformat()} {lb_id} 203.0.113.9:4711 - -1 -1 -1 503 - 0 0 "GET /"\n'
    with as_delivery_service(s3, bucket, ELB_SERVICE, [test_file, log]):
        for _ in range(2):
            s3.put_object(
                Bucket=bucket,
                Key=test_file,
                Body=f"Enable AccessLog for ELB: {lb_id} at {now.isoformat()}".encode(),
            )
        s3.put_object(Bucket=bucket, Key=log, Body=gzip.compress(line.encode()))
    return [test_file, log]


def config_history(s3: Any, config: Any, account: str, region: str) -> list[str]:
    """What AWS Config delivers: the history of two resource types and a snapshot, into the
    delivery channel's bucket and prefix, encrypted with its key."""
    (channel,) = config.describe_delivery_channels()["DeliveryChannels"]
    bucket, prefix = channel["s3BucketName"], channel.get("s3KeyPrefix")
    base = f"{prefix}/AWSLogs/{account}/Config" if prefix else f"AWSLogs/{account}/Config"
    now = datetime.now(UTC)
    day = f"{region}/{now.year}/{now.month}/{now.day}"
    stamp = f"{now:%Y%m%dT%H%M%SZ}"
    history = f"{base}/{day}/ConfigHistory/{account}_Config_{region}_ConfigHistory"
    keys = [
        f"{history}_AWS::EC2::VPC_{stamp}_{stamp}_1.json.gz",
        f"{history}_AWS::S3::Bucket_{stamp}_{stamp}_1.json.gz",
        f"{base}/{day}/ConfigSnapshot/{account}_Config_{region}_ConfigSnapshot_{stamp}_a1b2.json.gz",
    ]
    encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
    if channel.get("s3KmsKeyArn"):
        encryption["SSEKMSKeyId"] = channel["s3KmsKeyArn"]
    with as_delivery_service(s3, bucket, CONFIG_SERVICE, keys):
        for key in keys:
            body = json.dumps({"fileVersion": "1.0", "configurationItems": []}).encode()
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=gzip.compress(body),
                ACL="bucket-owner-full-control",
                **encryption,
            )
    return keys


def versions_in(s3: Any, bucket: str) -> tuple[int, int]:
    """(object versions, delete markers) in `bucket`."""
    versions = markers = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += len(page.get("Versions", []))
        markers += len(page.get("DeleteMarkers", []))
    return versions, markers
