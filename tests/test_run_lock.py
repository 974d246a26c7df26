"""One writer per run directory (issue 14, class 3): two real processes."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from sweep.config import ContentWeightSweep, sweep_values
from sweep.errors import SweepError
from sweep.lock import LOCK_FILE, holder, run_dir_lock
from sweep.store import JobStore
from tests.test_reliability import _config, _run, _start_and_wait_for_frames, _write_config

HOLD = """
import sys, time
from sweep.lock import run_dir_lock
with run_dir_lock(sys.argv[1], "test"):
    print("held", flush=True)
    time.sleep(600)
"""


def _holder(directory) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_is_refused_with_the_holders_pid_and_a_dead_holder_is_taken_over(tmp_path):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(SweepError, match=f"in use by another sweep process \\(pid {holder.pid}\\)"):
            with run_dir_lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding it: the file stays, the flock goes
        holder.wait()
        holder.stdout.close()
    assert (tmp_path / LOCK_FILE).read_text().split()[0] == str(holder.pid)
    with run_dir_lock(tmp_path) as path:
        assert path.read_text().split()[0] != str(holder.pid)
    assert not (tmp_path / LOCK_FILE).exists()


def test_status_names_the_holder_and_its_glance_never_refuses_a_run_taking_the_lock(tmp_path):
    """`sweep status` asks with a shared lock; a run taking the lock in that moment waited
    for nothing and was refused (11 in 3000 tries): it now waits the glance out."""
    holder_process = _holder(tmp_path)
    try:
        assert holder(tmp_path) == f"`sweep test` (pid {holder_process.pid})"
    finally:
        holder_process.send_signal(signal.SIGKILL)
        holder_process.wait()
        holder_process.stdout.close()
    assert holder(tmp_path) is None   # the file is left, the flock gone with its process
    glance = os.open(tmp_path / LOCK_FILE, os.O_RDONLY)
    fcntl.flock(glance, fcntl.LOCK_SH)
    threading.Timer(0.1, os.close, [glance]).start()
    with run_dir_lock(tmp_path, "run") as path:
        assert path.read_text().split() == [str(os.getpid()), "run"]


@pytest.mark.slow
def test_a_second_run_even_with_force_cannot_write_into_a_running_directory(tmp_path):
    _write_config(tmp_path, _config(tmp_path, iterations=200, optimizer={"tolerance": 0.0}))
    out = tmp_path / "out"
    first = _start_and_wait_for_frames(tmp_path, out, 1)
    try:
        manifest = (out / "manifest.json").read_text()
        second = _run("run", "c.yaml", "--out", out, "--force", "--set", "sweep.content_weight.steps=5",
                      "--set", "optimizer.iterations=2", cwd=tmp_path)
        pick = _run("pick", out / "paint", "--frame", "0", cwd=tmp_path)
        assert json.loads((out / "manifest.json").read_text())["config_hash"] == json.loads(manifest)["config_hash"]
    finally:
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=60)
    for refused in (second, pick):
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and f"(pid {first.pid})" in lines[0], refused.stderr
    assert first.returncode == 143, stderr
    first_weights = set(sweep_values(ContentWeightSweep(start=100, stop=0.1, steps=6)))
    kept = JobStore(out / "paint").records()
    assert kept and {r["content_weight"] for r in kept} <= first_weights  # no frame of the second config
    assert not (out / "paint" / "pick_f000_cw-100.000.png").exists()
    assert not (out / LOCK_FILE).exists()
    rerun = _run("run", "c.yaml", "--out", out, "--set", "optimizer.iterations=2", "--force", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr  # the lock was released: the next run got it
