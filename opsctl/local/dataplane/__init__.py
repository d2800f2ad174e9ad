"""The local data plane: requests really flow through the `local` stack on the emulator.

One process (`python -O -m opsctl.local.dataplane`, started by `make run-stack` and the tests)
holds all of it; everything else keeps talking plain moto over HTTP:

- emulator.py   moto in-process (ThreadedMotoServer) with the project's ONE extension to it:
                DescribeTargetHealth answers from the data plane's health checks (moto 5.2.5 is
                pinned in pyproject.toml because this reads and patches its elbv2 internals);
                and the read-only view of the emulator the rest of the data plane follows.
- targets.py    target health as an ALB keeps it: initial, healthy / unhealthy by the group's
                thresholds, draining for the deregistration delay; real HTTP checks.
- balancer.py   the load balancer on a loopback port: listener rules, weights, default action,
                healthy targets, draining, keep-alive.
- instances.py  every InService instance of either Auto Scaling group is a real service
                process (web + worker, as the AMI's systemd units) run from its AMI's wheel.
- amis.py       `opsctl local ami`: a wheel of a git ref registered as an AMI with packer's tags.
- server.py     wires them together and serves the status the CLI shows (`opsctl local status`).

docs/local.md says where this differs from an ALB and an Auto Scaling group.
"""
