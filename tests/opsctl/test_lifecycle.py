"""Issue 16: a dev-shaped environment through its whole life, on a real moto server with real
terraform and the real `opsctl`: apply; AWS's own writes into its buckets; `opsctl destroy`;
apply again under the same names; a plan that shows no changes; a second teardown.

What each step proves, and what would make it fail on AWS before the fixes:
- destroy with the buckets full (finding 1): the ALB access-log bucket holds ELB's
  `ELBAccessLogTestFile`, the Config bucket Config's history, the ingest bucket an ingested
  file; all three are versioned and hold several versions and a delete marker. Without
  `force_destroy`, DeleteBucket answers BucketNotEmpty (moto 5.2.5 refuses too: a bucket with
  any version or delete marker is not deleted; the provider then fails the destroy).
- apply again under the same names (finding 2): a secret deleted with a recovery window keeps
  its name for that long; Secrets Manager refuses CreateSecret with the name meanwhile (moto keeps
  it too and refuses the create with ResourceExistsException).
- the second teardown (finding 3): the cluster's final snapshot must not be named like the
  first teardown's; DeleteDBCluster with an existing FinalDBSnapshotIdentifier fails with
  DBClusterSnapshotAlreadyExistsFault (moto refuses it too). The env takes final snapshots on
  teardown, as staging and prod do (dev itself skips them).
- the final snapshots stay restorable: destroy deletes the database's KMS key, which encrypts the
  snapshot, and a key past its deletion window decrypts nothing (opsctl/terraform/snapshot_keys.py
  has AWS's words); moto marks the key PendingDeletion as AWS does, and `opsctl destroy` must
  take it back.
Only the buckets' writes need a stand-in: tests/support/aws_delivery.py.

The tests in this file run in order and share one environment (each apply takes minutes).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from opsctl.aws import DUMMY_CREDENTIALS
from opsctl.local.emulator import MotoServer
from opsctl.terraform.snapshot_keys import SNAPSHOT_TAG
from tests.support import aws_delivery
from tests.support.opsctl_run import Opsctl
from tests.support.paths import REPO

pytestmark = pytest.mark.slow
ENV, REGION, NAME = "dev", "eu-west-1", "ingest-dev"


def dev_shaped(envs: Path) -> None:
    """envs/dev.yaml for the emulator: local's `features:` (each off only for a gap of moto,
    named in envs/local.yaml) and local's `tags: {}` (moto echoes a launch template's tags as a
    new version on every plan); everything else as dev has it, whatever dev.yaml says today.
    Two choices of the test: the ingest bucket may be emptied (its data is the test's), and the
    cluster takes a final snapshot on teardown, as staging's and prod's do."""
    dev = yaml.safe_load((REPO / "envs" / "dev.yaml").read_text())
    local = yaml.safe_load((REPO / "envs" / "local.yaml").read_text())
    dev["features"], dev["tags"] = local["features"], local["tags"]
    dev["database"] = {**dev["database"], "skip_final_snapshot": False}
    dev["force_destroy"] = {**dev.get("force_destroy", {}), "ingest_bucket": True}
    # dev's route53_zone_id is a placeholder no emulator holds (finding 9 made dev name a zone);
    # moto issues the certificate at once without one.
    dev["loadbalancer"] = {k: v for k, v in dev["loadbalancer"].items() if k != "route53_zone_id"}
    envs.mkdir()
    (envs / f"{ENV}.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))


class Life:
    """The environment's opsctl and the emulator's clients, shared by the steps below."""

    def __init__(self, opsctl: Opsctl, url: str) -> None:
        self.opsctl = opsctl
        self.url = url
        self.buckets: dict[str, str] = {}

    def client(self, service: Any) -> Any:  # Any: boto3-stubs overloads on literal names
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def run(self, *args: str) -> str:
        result = self.opsctl(*args)
        assert result.code == 0, result.output
        return result.stdout

    def snapshot_keys_kept(self) -> None:
        """Every final snapshot's KMS key is enabled and tagged with the snapshot's name."""
        kms = self.client("kms")
        snapshots = self.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"]
        finals = {
            s["DBClusterSnapshotIdentifier"]: s["KmsKeyId"]
            for s in snapshots
            if s["DBClusterSnapshotIdentifier"].startswith(f"{NAME}-final")
        }
        assert finals
        for name, key_arn in finals.items():
            key = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
            assert key["KeyState"] == "Enabled", (name, key)
            tags = kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]
            assert {"TagKey": SNAPSHOT_TAG, "TagValue": name} in tags

    def final_snapshots(self) -> list[str]:
        snapshots = self.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"]
        return sorted(
            s["DBClusterSnapshotIdentifier"]
            for s in snapshots
            if s["DBClusterSnapshotIdentifier"].startswith(f"{NAME}-final")
        )


@pytest.fixture(scope="module")
def life(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory, terraform: object
) -> Iterator[Life]:
    moto_server.reset()
    root = tmp_path_factory.mktemp("lifecycle")
    dev_shaped(root / "envs")
    opsctl = Opsctl(
        envs_dir=root / "envs", build_dir=root / "build", emulator_url=moto_server.endpoint
    )
    yield Life(opsctl, moto_server.endpoint)
    # Whatever a failed step left behind must not slow the next file on this worker.
    shutil.rmtree(root / "build", ignore_errors=True)
    moto_server.reset()


def test_1_apply_a_dev_shaped_env(life: Life) -> None:
    assert "Applied." in life.run("apply", ENV, "--yes")


def test_2_aws_writes_into_the_versioned_buckets(life: Life) -> None:
    s3 = life.client("s3")
    account = life.client("sts").get_caller_identity()["Account"]
    (alb,) = [
        lb
        for lb in life.client("elbv2").describe_load_balancers()["LoadBalancers"]
        if lb["LoadBalancerName"] == NAME
    ]
    aws_delivery.elb_access_logs(s3, life.client("elbv2"), alb["LoadBalancerArn"], account)
    aws_delivery.config_history(s3, life.client("config"), account, REGION)
    outputs = json.loads(life.run("output", ENV, "--json"))
    ingest = outputs["ingest_bucket_name"]
    # An uploader sends a file twice (two versions); a processed file expires, which leaves a
    # delete marker over its version (the module's lifecycle rule, or the worker's delete).
    for body in (b'{"id": 1}\n', b'{"id": 1}\n{"id": 2}\n'):
        s3.put_object(Bucket=ingest, Key="orders/2026-12-01.ndjson", Body=body)
    s3.put_object(Bucket=ingest, Key="orders/2026-11-30.ndjson", Body=b'{"id": 0}\n')
    s3.delete_object(Bucket=ingest, Key="orders/2026-11-30.ndjson")

    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    life.buckets = {
        "alb-logs": f"{NAME}-alb-logs-{account}",
        "config": f"{NAME}-config-{account}",
        "ingest": ingest,
    }
    assert set(life.buckets.values()) <= names
    for bucket in life.buckets.values():
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert aws_delivery.versions_in(s3, life.buckets["alb-logs"]) == (3, 0)
    assert aws_delivery.versions_in(s3, life.buckets["config"]) == (3, 0)
    assert aws_delivery.versions_in(s3, ingest) == (3, 1)


def test_3_destroy_empties_the_buckets_aws_wrote_into(life: Life) -> None:
    assert life.buckets, "the buckets were not filled"
    out = life.run("destroy", ENV, "--yes")
    assert "Destroyed." in out
    s3 = life.client("s3")
    for bucket in life.buckets.values():
        with pytest.raises(ClientError) as gone:
            s3.head_bucket(Bucket=bucket)
        assert gone.value.response["Error"]["Code"] == "404", bucket
    # Finding 2: nothing is left scheduled for deletion under the environment's names.
    secrets = life.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)
    assert [s["Name"] for s in secrets["SecretList"] if s["Name"].startswith(NAME)] == []
    assert len(life.final_snapshots()) == 1
    assert "Kept KMS key" in out
    life.snapshot_keys_kept()


def test_4_apply_again_under_the_same_names(life: Life) -> None:
    assert "Applied." in life.run("apply", ENV, "--yes")
    secrets = life.client("secretsmanager").list_secrets()["SecretList"]
    assert {f"{NAME}/api-keys", f"{NAME}/partner-credentials"} <= {s["Name"] for s in secrets}


def test_5_plan_after_the_re_apply_shows_no_changes(life: Life) -> None:
    result = life.opsctl("plan", ENV, "--json")
    assert result.code == 0, result.output
    assert not json.loads(result.stdout)["has_changes"]


def test_6_a_second_teardown_keeps_both_final_snapshots(life: Life) -> None:
    (first,) = life.final_snapshots()
    assert "Destroyed." in life.run("destroy", ENV, "--yes")
    snapshots = life.final_snapshots()
    assert len(snapshots) == 2, snapshots
    assert first in snapshots
    life.snapshot_keys_kept()
