"""The shape of what a run directory holds, checked whenever it is read.

`manifest.json` and each job's `frames.json` are JSON that anyone can edit or
damage; a file of the right syntax but the wrong shape must not turn into a
traceback, nor a frame PNG overwritten with garbage into a "complete" run.

- A damaged `manifest.json` (unreadable, or not of MANIFEST's shape) cannot say
  which config the frames belong to: `sweep run` refuses the directory unless
  `--force`, which replaces its frames.
- A damaged `frames.json`, a record of the wrong shape, or a record whose PNG does
  not decode (or has another size than the job's frames) makes that frame
  missing: the next run optimises it again, after a warning line, and
  `sweep status` lists it as damaged.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .errors import SweepError
from .layout import CONFIG_FILE, MANIFEST_FILE, frame_file

FRAME_FILE = re.compile(r"frames/f\d{3,}_cw-\d+\.\d{3}\.png")
FRAME_STATUSES = ("done", "failed")


def read_json_or_problem(path: Path, default: Any) -> tuple[Any, str | None]:
    """(payload, None), (default, None) when absent, or (default, why it cannot be read)."""
    if not path.exists():
        return default, None
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, ValueError) as exc:
        return default, f"{path.name} cannot be read ({' '.join(str(exc).split())[:120]})"


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool), as a record's numbers must be."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def record_problem(record: Any) -> str | None:
    """Why a frames.json record is unusable, or None."""
    if not isinstance(record, dict):
        return f"a record is a {type(record).__name__}, not an object"
    index = record_index(record)
    if index is None:
        return f"a record has index {record.get('index')!r}, not a frame index"
    weight = record.get("content_weight")
    if not is_number(weight) or weight <= 0:
        return f"frame {index}'s record has content_weight {weight!r}, not a positive number"
    file = record.get("file")
    if not isinstance(file, str) or not FRAME_FILE.fullmatch(file):
        return f"frame {index}'s record names the file {file!r}, not frames/fNNN_cw-W.png"
    if file != frame_file(index, weight):
        # another frame's PNG, or an edited weight: the frame is not what the record says
        return (f"frame {index}'s record names the file {file!r}; frame {index} at content weight {weight:g} "
                f"is {frame_file(index, weight)!r}")
    for key in ("content_loss", "style_loss", "tv_loss"):
        if key in record and record[key] is not None and not is_number(record[key]):
            return f"frame {index}'s record has {key} {record[key]!r}, not a number"
    return None


def record_index(record: Any) -> int | None:
    """The frame index a record claims, if it claims one."""
    index = record.get("index") if isinstance(record, dict) else None
    return index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else None


def usable_records(payload: Any) -> tuple[list[dict], list[tuple[int | None, str]]]:
    """The well-formed records of a frames.json payload (the last one per index wins),
    and what was wrong with the others, each with the frame index it claims (or None)."""
    if not isinstance(payload, list):
        return [], [(None, f"frames.json holds a {type(payload).__name__}, not a list of records")]
    by_index: dict[int, dict] = {}
    problems = []
    for record in payload:
        problem = record_problem(record)
        if problem:
            problems.append((record_index(record), problem))
        else:
            by_index[record["index"]] = record
    return [by_index[i] for i in sorted(by_index)], problems


def frame_shape(path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """((height, width), None) of a stored frame PNG, or (None, why it does not decode)."""
    from .images import read_png

    try:
        return tuple(read_png(path).shape[:2]), None
    except (SweepError, OSError, ValueError) as exc:
        return None, f"{path.name} does not decode ({' '.join(str(exc).split())[:120]})"


def manifest_problem(manifest: Any) -> str | None:
    """Why a parsed manifest.json is not of the shape `sweep run` writes, or None."""
    if not isinstance(manifest, dict):
        return f"it holds a {type(manifest).__name__}, not an object"
    for key in ("config_hash", "weights_sha256"):
        if not isinstance(manifest.get(key), str):
            return f"its {key} is {manifest.get(key)!r}, not a string"
    recipe = manifest.get("frame_recipe", 1)   # sweep/identity.py FRAME_RECIPE; absent: trusted
    if isinstance(recipe, bool) or not isinstance(recipe, int) or recipe < 1:
        return f"its frame_recipe is {recipe!r}, not a positive integer"
    jobs = manifest.get("jobs")
    if not isinstance(jobs, dict):
        return f"its jobs are {type(jobs).__name__}, not an object"
    for name, job in jobs.items():
        if not isinstance(job, dict) or not isinstance(job.get("frames"), dict):
            return f"job {name!r} has no frames object"
        if "inputs_sha256" in job and not isinstance(job["inputs_sha256"], str):
            return f"job {name!r} has inputs_sha256 {job['inputs_sha256']!r}, not a string"
        if job.get("placement", "even") not in ("even", "log"):   # spacing: even (sweep/spacing.py)
            return f"job {name!r} has placement {job['placement']!r}, not 'even' or 'log'"
        for index, entry in job["frames"].items():
            if not index.isdigit() or not isinstance(entry, dict) or entry.get("status") not in FRAME_STATUSES:
                return f"job {name!r} has a frame entry {index!r}: {entry!r:.60}"
    for key in ("files", "picks"):   # what the run wrote, what `sweep pick` wrote (sweep/ownership.py)
        paths = manifest.get(key, [])
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            return f"its {key} are not a list of paths"
    return None


# Keys only a run's manifest.json has; one with none of them is another program's.
RUN_MANIFEST_KEYS = ("config_hash", "weights_sha256", "jobs", "frame_recipe")


def run_dir_around(path: Path) -> Path | None:
    """The nearest folder above `path` that is a run directory: its config.yaml beside a
    manifest.json that is a run's, damaged or not (a web app's manifest.json is not one)."""
    try:
        parents = Path(path).resolve().parents
    except (OSError, RuntimeError) as exc:   # a symbolic link that leads to itself
        raise SweepError(f"cannot follow {path}: {exc}") from None
    for parent in parents:
        if (parent / CONFIG_FILE).is_file() and (parent / MANIFEST_FILE).is_file():
            manifest, _ = read_json_or_problem(parent / MANIFEST_FILE, None)
            if not isinstance(manifest, dict) or any(key in manifest for key in RUN_MANIFEST_KEYS):
                return parent
    return None
