"""moto server answering one request at a time, for races on DynamoDB conditional writes.

DynamoDB applies each write atomically, condition included ("Individual write operations such as
UpdateItem are atomic", docs.aws.amazon.com/amazondynamodb/latest/developerguide/
BestPractices_ImplementingVersionControl.html). moto 5.2.5's threaded server evaluates a
condition and then writes without a lock, so two concurrent conditional PutItems on one item can
both succeed (seen in tests/opsctl/test_lock.py's race: both racers won round 21 with the same
token). Serving requests one at a time restores the atomicity AWS guarantees; nothing else of
moto changes.

python -m tests.support.serial_moto PORT
"""

from __future__ import annotations

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main(port: int) -> None:
    run_simple("127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
