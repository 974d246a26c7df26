"""Failure injection for tests/test_ray.py, kept out of the product code.

`optimise_task_failing_once` is the Ray task with one injected failure: when the
environment variable FAIL_ONCE_ENV names a file that does not exist yet, the task
creates it and raises, so exactly one task attempt fails, whichever worker runs it.
The workers import this module (the test puts the repository on their PYTHONPATH).
"""
from __future__ import annotations

import os

from sweep.ray_executor import optimise_task

FAIL_ONCE_ENV = "SWEEP_TEST_FAIL_ONCE"


def _maybe_fail_once() -> None:
    marker = os.environ.get(FAIL_ONCE_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    raise RuntimeError(f"injected failure ({FAIL_ONCE_ENV}={marker})")


def optimise_task_failing_once(*args, **kwargs):
    _maybe_fail_once()
    return optimise_task(*args, **kwargs)
