"""A destroy that keeps a final snapshot keeps the KMS key it is encrypted with.

On AWS, `terraform destroy` schedules the database key's deletion in the same run that takes the
final snapshot, and once the key is deleted the snapshot can never be decrypted (AWS KMS
Developer Guide, "Deleting AWS KMS keys"). moto plays both halves as AWS does: the cluster's
snapshots carry the cluster's KmsKeyId, and ScheduleKeyDeletion leaves the key PendingDeletion.
The whole `opsctl destroy` is covered by tests/opsctl/test_lifecycle.py.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from opsctl.local.emulator import MotoServer
from opsctl.terraform.snapshot_keys import SNAPSHOT_TAG, Kept, keep_final_snapshot_keys

CLUSTER = "ingest-staging"


def client(service: str) -> Any:
    return boto3.client(service)  # type: ignore[call-overload]  # the `aws` fixture: the emulator


def cluster_with_key(rds: Any, kms: Any, name: str) -> str:
    key = kms.create_key(Description=f"{name} database")["KeyMetadata"]["Arn"]
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        StorageEncrypted=True,
        KmsKeyId=key,
    )
    return str(key)


def tear_down(rds: Any, kms: Any, name: str, key: str, snapshot: str | None) -> None:
    """What terraform's destroy does to the cluster and then to its key."""
    if snapshot:
        rds.delete_db_cluster(DBClusterIdentifier=name, FinalDBSnapshotIdentifier=snapshot)
    else:
        rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]  # as terraform passes it
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)


def state(kms: Any, key: str) -> str:
    return str(kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"])


def test_the_final_snapshots_key_is_taken_back_from_deletion(aws: MotoServer) -> None:
    rds, kms = client("rds"), client("kms")
    key = cluster_with_key(rds, kms, CLUSTER)
    tear_down(rds, kms, CLUSTER, key, f"{CLUSTER}-final-20261203080000")
    assert state(kms, key) == "PendingDeletion"

    kept = keep_final_snapshot_keys(rds, kms, CLUSTER)

    assert kept == [Kept(snapshot=f"{CLUSTER}-final-20261203080000", key_arn=key)]
    assert state(kms, key) == "Enabled"
    tags = kms.list_resource_tags(KeyId=key.rsplit("/", 1)[1])["Tags"]
    assert {"TagKey": SNAPSHOT_TAG, "TagValue": f"{CLUSTER}-final-20261203080000"} in tags
    # Run again (the next teardown of a re-created cluster): a kept key is left as it is.
    assert keep_final_snapshot_keys(rds, kms, CLUSTER) == []


@pytest.mark.parametrize(
    "snapshot",
    [None, "operator-copy-before-teardown"],
    ids=["no-final-snapshot", "not-a-final-snapshot"],
)
def test_keys_of_other_snapshots_and_clusters_are_left_to_their_deletion(
    aws: MotoServer, snapshot: str | None
) -> None:
    rds, kms = client("rds"), client("kms")
    key = cluster_with_key(rds, kms, CLUSTER)
    other = cluster_with_key(rds, kms, "ingest-dev")
    tear_down(rds, kms, CLUSTER, key, snapshot)
    tear_down(rds, kms, "ingest-dev", other, "ingest-dev-final-20261203080000")

    assert keep_final_snapshot_keys(rds, kms, CLUSTER) == []
    assert state(kms, key) == "PendingDeletion"
    assert state(kms, other) == "PendingDeletion"
