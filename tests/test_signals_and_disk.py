"""Signals that land at the worst moment, and a disk that fills up (issue 14, classes 1 and 2).

A signal between creating a temporary and entering its cleanup used to leave a
`.sweep-tmp-*` file; a second SIGTERM during unwinding ended in a traceback. A full
disk used to end in a traceback, or (ffmpeg's exit status was never read) in a
truncated movie renamed over a good one.
"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from sweep import atomic, cli
from sweep.errors import SweepError
from tests.test_reliability import SWEEP, _config, _frames, _start_and_wait_for_frames, _strays, _write_config


def _mkstemp_then_signal(signum):
    """mkstemp as a signal would interrupt it: the file exists, then the signal lands."""
    original = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        result = original(*args, **kwargs)
        os.kill(os.getpid(), signum)
        return result
    return mkstemp


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_right_after_the_temporary_is_created_leaves_no_temporary(tmp_path, monkeypatch, signum):
    previous = cli._install_signal_handlers()
    try:
        monkeypatch.setattr(atomic.tempfile, "mkstemp", _mkstemp_then_signal(signum))
        with pytest.raises(KeyboardInterrupt):
            atomic.write_json(tmp_path / "manifest.json", {"a": 1})
            time.sleep(1)  # the signal is delivered before this returns, in any case
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert list(tmp_path.iterdir()) == []


def test_a_second_signal_during_unwinding_is_ignored():
    previous = cli._install_signal_handlers()
    try:
        with pytest.raises(cli.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)  # would raise Terminated again, outside any handler
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@pytest.mark.slow
def test_two_sigterms_50ms_apart_end_cleanly(tmp_path):
    _write_config(tmp_path, _config(tmp_path, iterations=200, optimizer={"tolerance": 0.0}))
    out = tmp_path / "out"
    process = _start_and_wait_for_frames(tmp_path, out, 1)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "interrupted (SIGTERM)" in stderr
    assert _strays(out) == []


# --------------------------------------------------------------------------- full disk


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_keeps_the_old_file_and_says_where_and_how_much_is_free(tmp_path, monkeypatch):
    target = tmp_path / "frames.json"
    atomic.write_json(target, [1, 2])
    monkeypatch.setattr(atomic.os, "fsync", _enospc)
    with pytest.raises(SweepError) as info:
        atomic.write_json(target, [1, 2, 3])
    assert str(target) in str(info.value) and "No space left on device" in str(info.value)
    assert " free there" in str(info.value) and "\n" not in str(info.value)
    assert target.read_text() == "[\n  1,\n  2\n]\n" and _strays(tmp_path) == []


def test_a_file_where_a_folder_should_be_is_named_not_blamed_on_the_disk(tmp_path):
    (tmp_path / "run" / "rings").mkdir(parents=True)
    (tmp_path / "run" / "rings" / "frames").write_text("a file of the user's")
    with pytest.raises(SweepError) as info:
        atomic.write_bytes(tmp_path / "run" / "rings" / "frames" / "f000_cw-100.000.png", b"png")
    assert str(info.value).endswith(f"{tmp_path / 'run' / 'rings' / 'frames'} is a file, not a folder; move it away")
    (tmp_path / "run" / "glass").symlink_to(tmp_path / "gone", target_is_directory=True)
    with pytest.raises(SweepError, match=r"glass is a link to nothing, not a folder") as info:
        atomic.write_bytes(tmp_path / "run" / "glass" / "frames" / "f000_cw-100.000.png", b"png")
    assert "free there" not in str(info.value) and "\n" not in str(info.value)


def test_a_folder_that_cannot_be_looked_into_keeps_the_writes_own_reason(tmp_path, monkeypatch):
    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "is_symlink", refused)
    error = atomic.write_failure(tmp_path / "run" / "f.png", PermissionError(13, "Permission denied"))
    assert str(error).startswith(f"cannot write {tmp_path / 'run' / 'f.png'}: Permission denied (")


def test_an_empty_result_is_never_published(tmp_path):
    target = tmp_path / "sheet.png"
    target.write_bytes(b"the previous sheet")
    with pytest.raises(SweepError, match="empty file"):
        with atomic.atomic_path(target):
            pass  # a writer that wrote nothing and raised nothing
    assert target.read_bytes() == b"the previous sheet" and _strays(tmp_path) == []


def _frames_of(count: int) -> list[np.ndarray]:
    return [np.full((32, 48, 3), 40 * k, np.uint8) for k in range(count)]


@pytest.mark.parametrize("suffix", ["mp4", "gif"])
def test_a_movie_that_fails_to_encode_keeps_the_previous_movie(tmp_path, monkeypatch, suffix):
    """An encoder that writes part of the movie and then fails (ffmpeg on a full disk;
    here a stand-in script) must not be renamed over the previous movie."""
    from sweep.render import movie

    target = tmp_path / f"movie.{suffix}"
    movie.write_movie(_frames_of(3), None, target, fps=4, hold=0)
    good = target.read_bytes()
    if suffix == "mp4":
        fake = tmp_path / "ffmpeg"
        fake.write_text('#!/bin/sh\nfor last; do :; done\nhead -c 100 > "$last"\n'
                        'echo "av_interleaved_write_frame(): No space left on device" >&2\nexit 1\n')
        fake.chmod(0o755)
        monkeypatch.setattr(movie, "_ffmpeg_exe", lambda: str(fake))
    else:
        monkeypatch.setattr(movie.Image.Image, "save", _enospc)
    with pytest.raises(SweepError) as info:
        movie.write_movie(_frames_of(4), None, target, fps=4, hold=0)
    assert str(target) in str(info.value) and "free there" in str(info.value)
    assert target.read_bytes() == good and _strays(tmp_path) == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MB tmpfs, where mounting is permitted (root on Linux); skipped elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(mount: Path, leave: int = 0) -> None:
    """Fill the disk to the last byte, then free `leave` bytes again."""
    filler = mount / "filler"
    try:
        with open(filler, "wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 512)
    except OSError:
        pass
    os.truncate(filler, max(0, filler.stat().st_size - leave))


@pytest.mark.slow
@pytest.mark.parametrize("leave", [0, 12 * 1024], ids=["full", "room for the JSON only"])
def test_a_rerun_on_a_full_disk_keeps_every_output_and_says_why(tmp_path, small_tmpfs, leave):
    """Full: the rerun is refused at its first write. 12 kB left: config.yaml and
    manifest.json are rewritten, then a render (sheet, movie) runs out of space; the
    previous sheet and movies stay as they were, whatever the encoder did."""
    _write_config(tmp_path, _config(tmp_path, steps=3, iterations=4, movie={"formats": ["mp4", "gif"]}))
    out = small_tmpfs / "out"
    first = subprocess.run([*SWEEP, "run", "c.yaml", "--out", str(out)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _fill(small_tmpfs, leave)
    result = subprocess.run([*SWEEP, "run", "c.yaml", "--out", str(out)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot write "), result.stderr
    assert "No space left on device" in lines[-1] and "free there" in lines[-1]
    if not leave:
        assert len(lines) == 1, result.stderr
    for path, data in before.items():
        assert path.read_bytes() == data, path
    assert _strays(out) == []
