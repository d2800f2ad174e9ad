"""moto server with the emulator's fixes: `python -O -m opsctl.local.moto_fixes -H HOST -p PORT`.

MotoServer (emulator.py) starts moto this way; the data plane's in-process moto
(dataplane/emulator.py) calls `apply()` itself. Each fix repairs a crash of moto 5.2.5 on a call
AWS answers; none makes moto accept what AWS refuses (docs/emulator.md lists them).
"""

from __future__ import annotations


def _delete_markers_can_be_deleted() -> None:
    """Deleting a version (DeleteObject/DeleteObjects with VersionId) in a bucket whose
    versioning is Suspended drops every version of the key and calls `dispose()` on each; a
    delete marker has no `dispose`, so the call answers HTTP 500. Terraform suspends versioning
    (destroying `aws_s3_bucket_versioning`) before `force_destroy` empties the bucket, so any
    bucket holding a delete marker (an expired ingest object, a lockfile the S3 backend removed)
    could not be destroyed. AWS deletes the marker."""
    from moto.s3 import models as s3_models  # moto is heavy: imported when the fix is applied

    marker = s3_models.FakeDeleteMarker
    if not hasattr(marker, "dispose"):
        setattr(marker, "dispose", lambda self, garbage=False: None)  # noqa: B010


def apply() -> None:
    _delete_markers_can_be_deleted()


if __name__ == "__main__":
    from moto.server import main

    apply()
    main()
