"""What a run's frames were made from, so that frames of two kinds never share a movie:
the config (`config_hash`, over the sections that decide what a frame looks like), the
input pixels (the manifest's per-job `inputs_sha256`, `changed_inputs`) and sweep's own
code (`FRAME_RECIPE`). `sweep/store.py` refuses a resume on any difference.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from .config import Config
from .morph import even_spacing

# The sections that decide what a frame looks like; movie and runtime settings do not.
FRAME_SECTIONS = ("content", "styles", "sweep", "image", "optimizer", "init", "keyframes", "model", "seed")

# What a frame looks like also depends on sweep's own code. Bump this when a change makes
# other frames from the same config and inputs, so that a run directory made before does
# not resume into a movie of two kinds of frames. 1: the first recorded, with the TV loss's
# floor (sweep/losses.py tv_norm). 2: the floor at a tenth of the painting's TV, not a
# thirtieth; `colors: match` on a photo of one chroma runs as `photo`. A manifest without one
# is trusted, as one without an input digest is: it was written before the recipe was recorded.
FRAME_RECIPE = 2


def config_hash(config: Config) -> str:
    relevant = {key: value for key, value in config.to_dict().items() if key in FRAME_SECTIONS}
    if relevant["sweep"]["content_weight"]["spacing"] == "even" and not even_spacing(config):
        relevant["sweep"]["content_weight"]["spacing"] = "log"   # the same frames: runs made before even resume
    relevant["styles"] = {name: _hashed_artist(artist) for name, artist in relevant["styles"].items()}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def changed_inputs(manifest: dict | None, inputs: dict[str, str]) -> list[str]:
    """Jobs whose stored input digest differs from this run's (a manifest without one is trusted)."""
    jobs = manifest.get("jobs", {}) if isinstance(manifest, dict) else {}
    return sorted(d for d, digest in inputs.items()
                  if jobs.get(d, {}).get("inputs_sha256") not in (None, digest))


def recipe_of(manifest: dict) -> int:
    return manifest.get("frame_recipe", FRAME_RECIPE)


def recipe_differs(manifest: dict | None, has_frames: Callable[[], bool]) -> bool:
    """The run directory has frames (noted as done in the manifest, or in its frame store,
    which `has_frames` looks at only when the recipes differ) that a sweep of another
    FRAME_RECIPE made."""
    if manifest is None or recipe_of(manifest) == FRAME_RECIPE:
        return False
    return has_frames() or any(entry.get("status") == "done" for job in manifest.get("jobs", {}).values()
                               for entry in job["frames"].values())


def recipe_refusal(directory: Path, recipe: int) -> str:
    which = "an earlier" if recipe < FRAME_RECIPE else "a newer"
    return (f"{directory} holds frames made by {which} version of sweep (frame recipe {recipe}, this one makes "
            f"{FRAME_RECIPE}), which makes other frames from the same config; choose another --out, "
            f"or pass --force to make them again")


def _hashed_artist(artist: dict):
    """An artist as the hash sees it: one painting in its own colours hashes as the bare
    path it was before artists became mappings, so run directories made then still resume."""
    if len(artist["paintings"]) == 1 and artist["colors"] == "style":
        return artist["paintings"][0]
    return artist
