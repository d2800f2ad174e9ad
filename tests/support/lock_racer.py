"""One racer for tests/opsctl/test_lock.py: a real process taking the environment lock through
opsctl/lock.py each time a line `go` arrives on stdin. It answers `won TOKEN`, `lost raced`
(it saw the lease expired but another process's conditional write came first) or `lost held`.
A winner never releases: the test ages the lease, as a crashed holder would leave it.

python -m tests.support.lock_racer EMULATOR_URL ENV NAME
"""

from __future__ import annotations

import sys

from opsctl import lock


def main(url: str, env: str, name: str) -> None:
    store = lock.Store.open(env, "eu-west-1", url)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        try:
            lease = store.acquire(f"race {name}", f"arn:aws:sts::123456789012:racer/{name}")
        except lock.LockHeld as error:
            print("lost raced" if error.raced else "lost held", flush=True)
        else:
            print(f"won {lease.token}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
