"""The run directory's layout: every name a run writes, and the reader of a job's records.

    DIR/config.yaml                     the resolved config
    DIR/manifest.json                   config hash, weights checksum, frame recipe, every frame's status
    DIR/index.html                      the report
    DIR/[PHOTO/]compare.{mp4,gif,png}   the artists side by side
    DIR/[PHOTO/]ARTIST/                 a job: "ARTIST" for one photo, "PHOTO/ARTIST" for a gallery
    JOB/frames.json                     [{index, content_weight, content_loss, style_loss, file, artist}, ...]
    JOB/motion.json                     the movie's step, jitter and pace (sweep/motion.py)
    JOB/frames/f007_cw-3.162.png        the frames, uint8 RGB PNGs
    JOB/movie.{mp4,gif}, JOB/sheet.png  the job's renderings
    JOB/progress/f007/s0040.png         snapshots; JOB/progress.gif their animation
    JOB/.keyframes/                     spacing: even: the keyframes, a job of their own (sweep/spacing.py)

Each record looks like ``{"index": 7, "content_weight": 3.162, "content_loss": 0.41,
"style_loss": 0.02, "file": "frames/f007_cw-3.162.png", "artist": {"name": "van_gogh",
"paintings": [...], "weights": [1.0], "colors": "style"}}`` (the artist as the config
resolved it), optionally with ``"suggested": true`` (written by the store,
`JobStore.mark_suggested`). Sweep
order is content weight descending: the photo first, the style last.
Every other module asks this one for a name; it imports nothing of the project
but `SweepError` and the weight formatter.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Sequence, TypedDict

from .errors import SweepError
from .weight_text import filename_weight

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "index.html"
RECORDS_FILE = "frames.json"
FRAMES_DIR = "frames"
SHEET_FILE = "sheet.png"
MOTION_FILE = "motion.json"
MOVIE_STEM = "movie"
COMPARE_STEM = "compare"
PROGRESS_DIR = "progress"
PROGRESS_GIF = "progress.gif"
KEYFRAMES_DIR = ".keyframes"
MOVIE_KINDS = ("mp4", "gif")

# Files a run writes next to its job directories; a style or photo of that name would collide.
RESERVED_NAMES = frozenset({CONFIG_FILE, MANIFEST_FILE, REPORT_FILE, RECORDS_FILE, FRAMES_DIR, SHEET_FILE, MOTION_FILE,
                            PROGRESS_DIR, PROGRESS_GIF, f"{COMPARE_STEM}.png",
                            *(f"{stem}.{kind}" for stem in (MOVIE_STEM, COMPARE_STEM) for kind in MOVIE_KINDS)})

MAX_NAME = 100   # characters of an artist's or photo's folder name
MAX_NAME_BYTES = 255   # and its bytes in UTF-8: a folder name's limit on common file systems


def name_bytes(name: str) -> int:
    return len(name.encode("utf-8", "surrogatepass"))


def name_fits(name: str) -> bool:
    return len(name) <= MAX_NAME and name_bytes(name) <= MAX_NAME_BYTES


def check_safe_name(name: str, what: str) -> None:
    """Names become directory names under the output directory: keep them inside it."""
    if isinstance(name, str) and name.lower() in RESERVED_NAMES:
        raise SweepError(f"{what} {name!r} is reserved for a file that sweep writes into the output directory; "
                         f"choose another name")
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") \
            or any(ord(c) < 32 for c in name) or name != name.strip():
        raise SweepError(f"{what} {name!r} is not a safe directory name: use letters, digits, '-', '_' "
                         f"and spaces, without '/', '\\', a leading '.' or a space at either end")
    if not name_fits(name):
        raise SweepError(f"{what} {name[:40]!r}... is too long for a folder name: {len(name)} characters, "
                         f"{name_bytes(name)} bytes in UTF-8 (at most {MAX_NAME} "
                         f"and {MAX_NAME_BYTES}); shorten it")


_SNAPSHOT = re.compile(r"^s(\d{4,})\.png$")
_FRAME = re.compile(r"^f\d{3,}_cw-.+\.png$")
_SNAPSHOT_FOLDER = re.compile(r"^f\d{3,}$")
REQUIRED_KEYS = ("index", "content_weight", "file")
# Two jobs share their content weights when every pair agrees to this relative tolerance.
WEIGHT_TOLERANCE = 1e-6


def inside_run_dir(path: str | os.PathLike) -> bool:
    """Whether `path` lies in a run directory of sweep (a folder above it holds the run's
    manifest.json and config.yaml): a frame, sheet or comparison, never a photo to sweep."""
    return any((folder / MANIFEST_FILE).is_file() and (folder / CONFIG_FILE).is_file()
               for folder in Path(os.path.abspath(path)).parents)


def keyframes_dir(relative_dir: str) -> str:
    """The hidden job that holds the keyframes of job `relative_dir` under `spacing: even`."""
    return f"{relative_dir}/{KEYFRAMES_DIR}"


def is_keyframes_job(relative_dir: str) -> bool:
    """Whether `relative_dir` is such a hidden job (`keyframes_dir`), not one of the config's."""
    return Path(relative_dir).name == KEYFRAMES_DIR


class FrameRecord(TypedDict, total=False):
    """One entry of `frames.json`; `suggested` is added by `JobStore.mark_suggested`."""
    index: int
    content_weight: float
    content_loss: float
    style_loss: float
    tv_loss: float
    iterations: int
    file: str
    artist: dict   # {name, paintings, weights, colors}: plan.Job.artist_record()
    suggested: bool


def frame_record(index: int, content_weight: float, content_loss: float, style_loss: float,
                 tv_loss: float, iterations: int, artist: dict | None = None) -> FrameRecord:
    """The record of a stored frame, naming its PNG (`frame_file`) and its artist."""
    record: FrameRecord = {"index": index, "content_weight": content_weight, "content_loss": content_loss,
                           "style_loss": style_loss, "tv_loss": tv_loss, "iterations": iterations,
                           "file": frame_file(index, content_weight)}
    if artist is not None:
        record["artist"] = artist
    return record


def frame_filename(index: int, content_weight: float) -> str:
    return f"f{index:03d}_cw-{filename_weight(content_weight)}.png"


def frame_file(index: int, content_weight: float) -> str:
    """A frame's path relative to its job directory, as its record's `file` holds it."""
    return f"{FRAMES_DIR}/{frame_filename(index, content_weight)}"


def movie_file(kind: str) -> str:
    return f"{MOVIE_STEM}.{kind}"


def compare_file(kind: str) -> str:
    return f"{COMPARE_STEM}.{kind}"


def snapshot_dir(job_dir: str | os.PathLike, index: int) -> Path:
    """Where the progress snapshots of frame `index` live."""
    return Path(job_dir) / PROGRESS_DIR / f"f{index:03d}"


def snapshot_filename(step: int) -> str:
    return f"s{step:04d}.png"


def is_frame_filename(filename: str) -> bool:
    """Whether `filename` is named as `frame_filename` names a frame."""
    return _FRAME.match(filename) is not None


def is_snapshot_folder(name: str) -> bool:
    """Whether `name` is named as `snapshot_dir` names a frame's snapshot folder."""
    return _SNAPSHOT_FOLDER.match(name) is not None


def snapshot_step(filename: str) -> int | None:
    """The step of a snapshot file name written by `snapshot_filename`, else None."""
    match = _SNAPSHOT.match(filename)
    return int(match.group(1)) if match else None


def job_dirs(photo_names: Sequence[str], artists: Sequence[str], gallery: bool) -> list[str]:
    """The jobs' directories relative to the run, photo-major: "ARTIST", or
    "PHOTO/ARTIST" in a gallery."""
    return [f"{photo}/{artist}" if gallery else artist for photo in photo_names for artist in artists]


def load_records(job_dir: str | os.PathLike) -> list[FrameRecord]:
    """The records of `JOB/frames.json`, in the stored (sweep) order.

    Raises SweepError when the file is missing, is not a JSON list of objects, or a
    record lacks `index`, `content_weight` or `file`, or has a content weight that is
    not a positive finite number.
    """
    path = Path(job_dir) / RECORDS_FILE
    if not path.is_file():
        raise SweepError(f"no frame store at {Path(job_dir)}: {path.name} is missing")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"cannot read {path}: {exc}") from exc
    if not isinstance(records, list) or not records:
        raise SweepError(f"{path} must hold a non-empty JSON list of frame records")
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise SweepError(f"{path}: record {position} is {type(record).__name__}, expected an object")
        missing = [key for key in REQUIRED_KEYS if key not in record]
        if missing:
            raise SweepError(f"{path}: record {position} lacks {', '.join(missing)}")
        weight = record["content_weight"]
        if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise SweepError(
                f"{path}: record {position} has content_weight {weight!r}, expected a positive number"
            )
    return records


def suggested_position(records: Sequence[dict]) -> int | None:
    """Position of the record flagged `"suggested": true`, or None."""
    for position, record in enumerate(records):
        if record.get("suggested") is True:
            return position
    return None


def same_weights(first: Sequence[float], second: Sequence[float]) -> bool:
    """Whether two sweeps have the same content weights, in the same order."""
    return len(first) == len(second) and all(
        math.isclose(a, b, rel_tol=WEIGHT_TOLERANCE) for a, b in zip(first, second))
