"""moto server with the emulator's fixes: `python -O -m opsctl.local.moto_fixes -H HOST -p PORT`.

MotoServer (emulator.py) starts moto this way; the data plane's in-process moto
(dataplane/emulator.py) calls `apply()` itself. Each fix repairs a crash of moto 5.2.5 on a call
AWS answers; none makes moto accept what AWS refuses (docs/emulator.md lists them).
"""

from __future__ import annotations

from typing import Any


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


def _one_request_at_a_time() -> None:
    """moto is not thread-safe (getmoto/moto#372) and its server answers on many threads: one
    request iterating a backend's dict while another adds to it crashes with "dictionary changed
    size during iteration" and answers HTTP 500. The SDKs retry a 500, so a call that had already
    changed moto's state before crashing is carried out twice: terraform then fails on its own
    resource (InvalidSubnet.Conflict, DuplicateTargetGroupName, an alias that already exists, an
    internet gateway already attached). Seen here: three applies of 600 log groups and SSM
    parameters against three servers had 221 such 500s in two rounds. Every request now runs
    under one lock, body included; moto's work is Python under the GIL, so little is lost.

    The exception is SQS ReceiveMessage, which long-polls (WaitTimeSeconds, up to 20 s) and would
    hold every other call for that long: it runs outside the lock, as before."""
    import io
    import threading

    from moto.moto_server import werkzeug_app  # moto is heavy: imported when the fix is applied

    dispatcher = werkzeug_app.DomainDispatcherApplication
    if getattr(dispatcher, "one_at_a_time", False):
        return
    unlocked = dispatcher.__call__
    lock = threading.Lock()

    def long_poll(environ: dict[str, Any]) -> bool:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            return True
        if "Action=ReceiveMessage" in environ.get("QUERY_STRING", ""):
            return True
        form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if not form or not 0 < length <= 65536:
            return False
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # read again by moto
        return b"Action=ReceiveMessage" in body

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if long_poll(environ):
            return unlocked(self, environ, start_response)
        with lock:
            return list(unlocked(self, environ, start_response))

    dispatcher.__call__ = call  # type: ignore[method-assign]
    dispatcher.one_at_a_time = True  # type: ignore[attr-defined]


def apply() -> None:
    _delete_markers_can_be_deleted()
    _one_request_at_a_time()


if __name__ == "__main__":
    from moto.server import main

    apply()
    main()
