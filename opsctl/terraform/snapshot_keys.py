"""A final snapshot outlives its environment; the KMS key that encrypts it must outlive it too.

The database module's key encrypts the cluster, and Aurora encrypts the cluster's snapshots with
the same key (Aurora User Guide, "Encrypting Amazon Aurora resources"). `terraform destroy`
deletes that key in the same run as the cluster: ScheduleKeyDeletion, and once the 7-30 day
waiting period ends, "you can no longer decrypt the data that was encrypted under that KMS key,
which means that data becomes unrecoverable" (AWS KMS Developer Guide, "Deleting AWS KMS keys"):
the final snapshot could never be restored.
moto never deletes a key, so only this code's own check shows it.

After a destroy, every final snapshot of the cluster whose key is pending deletion gets its key
back: CancelKeyDeletion (which leaves the key disabled), EnableKey, and a tag naming the
snapshot. The key's alias is gone with the destroy, so applying the environment again makes a new
key under the same alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SNAPSHOT_TAG = "opsctl:final-snapshot"


@dataclass(frozen=True)
class Kept:
    snapshot: str
    key_arn: str


def final_snapshot_prefix(cluster: str) -> str:
    """The database module's `final_snapshot_identifier` is `<cluster>-final-<timestamp>`."""
    return f"{cluster}-final-"


def keep_final_snapshot_keys(rds: Any, kms: Any, cluster: str) -> list[Kept]:
    """Cancel the deletion of the key of every final snapshot of `cluster`; the ones kept."""
    kept: list[Kept] = []
    prefix = final_snapshot_prefix(cluster)
    pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
        DBClusterIdentifier=cluster, SnapshotType="manual"
    )
    for page in pages:
        for snapshot in page["DBClusterSnapshots"]:
            name, key = snapshot["DBClusterSnapshotIdentifier"], snapshot.get("KmsKeyId")
            if not key or not name.startswith(prefix):
                continue
            try:
                metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
            except kms.exceptions.NotFoundException:
                continue  # deleted already: nothing left to save
            if metadata["KeyState"] != "PendingDeletion":
                continue
            key_id = metadata["KeyId"]
            kms.cancel_key_deletion(KeyId=key_id)
            kms.enable_key(KeyId=key_id)
            kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": SNAPSHOT_TAG, "TagValue": name}])
            kept.append(Kept(snapshot=name, key_arn=metadata["Arn"]))
    return kept
