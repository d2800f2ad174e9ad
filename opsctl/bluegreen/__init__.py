"""Blue/green deployments: Terraform creates both colours; opsctl owns the live colour, the
weights, each colour's capacity and launch-template version, recorded in SSM Parameter Store.

clients.py  the AWS clients the engine uses (the seam tests wrap)
timing.py   durations, polling intervals and timeouts
stack.py    the environment's colours: ASGs, launch templates, target groups, listener, alarms
fleet.py    reading and changing them: capacity, health, weights, template versions, alarms
record.py   the recorded state and deployment (SSM parameters)
engine.py   deploy (canary, bake, keep-old), switch, rollback, resume
"""

COLOURS = ("blue", "green")


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"
