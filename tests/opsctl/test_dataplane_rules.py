"""The local data plane's rules, without servers: how a request picks its listener rule, and the
target-health state machine of the ELB guide ("Health checks for Application Load Balancer
target groups": one passing check takes a new target out of `initial`; UnhealthyThresholdCount
consecutive failures make it `unhealthy`, HealthyThresholdCount passes bring it back; a
deregistered target drains until its requests finish or the deregistration delay ends).
tests/opsctl/test_dataplane.py drives the same code with real processes and real traffic."""

from __future__ import annotations

from opsctl.local.dataplane.balancer import route, weights_of
from opsctl.local.dataplane.emulator import Group, Snapshot
from opsctl.local.dataplane.targets import Targets

BLUE, GREEN = "arn:tg/blue", "arn:tg/green"


def group(arn: str, colour: str, targets: tuple[str, ...], delay: float = 3.0) -> Group:
    return Group(arn, f"x-{colour}", colour, "/health", 1.0, 1.0, 3, 2, "200", delay, targets)


def forward(blue: int, green: int) -> dict[str, object]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": BLUE, "Weight": blue},
                {"TargetGroupArn": GREEN, "Weight": green},
            ]
        },
    }


def test_the_first_matching_rule_wins_else_the_default_action() -> None:
    records = [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v1/datasets/*/records"]}}
    ]
    posts = [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}]
    hosts = [{"Field": "host-header", "HostHeaderConfig": {"Values": ["example.com"]}}]
    snapshot = Snapshot(
        rules=[
            (5, hosts, [forward(0, 100)]),  # not played locally: never matches
            (10, records + posts, [forward(10, 90)]),
            (20, records, [forward(50, 50)]),
        ],
        default_actions=[forward(100, 0)],
    )
    assert route(snapshot, "/v1/datasets/a/records", "POST") == [forward(10, 90)]
    assert route(snapshot, "/v1/datasets/a/records", "GET") == [forward(50, 50)]
    assert route(snapshot, "/health", "GET") == [forward(100, 0)]
    assert weights_of(forward(10, 90)) == [(BLUE, 10), (GREEN, 90)]
    assert weights_of({"Type": "forward", "TargetGroupArn": BLUE}) == [(BLUE, 1)]


def test_health_follows_the_thresholds() -> None:
    targets = Targets(lambda _instance: None)
    snapshot = Snapshot(groups={BLUE: group(BLUE, "blue", ("i-1",))})
    targets.sync(snapshot, now=0.0)
    entry = targets.entries[(BLUE, "i-1")]
    g = snapshot.groups[BLUE]
    assert (entry.state, entry.reason) == ("initial", "Elb.RegistrationInProgress")
    assert targets.routable(BLUE) == []  # initial targets get nothing
    targets._record(entry, g, "Target.FailedHealthChecks", "Health checks failed")
    assert (entry.state, entry.reason) == ("initial", "Elb.InitialHealthChecking")
    targets._record(entry, g, None, None)  # one pass leaves `initial`
    assert entry.state == "healthy"
    assert targets.routable(BLUE) == [entry]
    targets._record(entry, g, "Target.Timeout", "Request timed out")
    assert entry.state == "healthy"  # 1 of UnhealthyThresholdCount 2
    targets._record(entry, g, "Target.Timeout", "Request timed out")
    assert (entry.state, entry.reason) == ("unhealthy", "Target.Timeout")
    assert targets.routable(BLUE) == [entry]  # every target unhealthy: fail open
    for _ in range(2):
        targets._record(entry, g, None, None)
    assert entry.state == "unhealthy"  # 2 of HealthyThresholdCount 3
    targets._record(entry, g, None, None)
    assert entry.state == "healthy"


def test_a_deregistered_target_drains_until_its_requests_finish_or_the_delay_ends() -> None:
    targets = Targets(lambda _instance: None)
    targets.sync(Snapshot(groups={BLUE: group(BLUE, "blue", ("i-1", "i-2"))}), now=0.0)
    busy = targets.entries[(BLUE, "i-1")]
    busy.in_flight = 1
    gone = Snapshot(groups={BLUE: group(BLUE, "blue", ())})
    targets.sync(gone, now=1.0)
    assert (BLUE, "i-2") not in targets.entries  # nothing in flight: deregistered at once
    assert (busy.state, busy.reason) == ("draining", "Target.DeregistrationInProgress")
    assert targets.draining_in(BLUE) == ["i-1"]
    assert targets.routable(BLUE) == []  # no new requests
    targets.sync(gone, now=3.9)
    assert (BLUE, "i-1") in targets.entries
    targets.sync(gone, now=4.0)  # the 3 s delay is over, request or not
    assert targets.entries == {}
