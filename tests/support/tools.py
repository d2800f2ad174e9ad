"""A test that needs a tool skips without it, except under CI, where a missing tool is a failure."""

import os

import pytest


def require(available: bool, what: str) -> None:
    """Skip (or, under CI, fail) when a tool the test needs is missing."""
    if available:
        return
    message = f"{what} is not installed (make setup installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
