"""One line naming an artist's paintings, their shares and its colours, for the sheet's
title and the report, read from the `artist` of the frame records (frames.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sweep.samples import SAMPLE_PREFIX

COLOR_WORDS = {"style": "the painting's colours", "photo": "the photo's colours",
               "match": "colours matched to the photo"}


def _painting_name(source: str) -> str:
    return source if source.startswith(SAMPLE_PREFIX) else Path(source).name


def artist_summary(records: Sequence[dict]) -> str:
    """E.g. "starry_night.jpg 70% + shipwreck.jpg 30%, the photo's colours"; "" when the
    records do not say (frames stored before artists were recorded)."""
    artist = next((r["artist"] for r in records if isinstance(r.get("artist"), dict)), None)
    if artist is None:
        return ""
    paintings = [_painting_name(str(p)) for p in artist.get("paintings", [])]
    weights = artist.get("weights") or []
    if len(paintings) > 1 and len(weights) == len(paintings):
        named = " + ".join(f"{name} {float(w):.0%}" for name, w in zip(paintings, weights))
    else:
        named = " + ".join(paintings)
    colors = artist.get("colors", "style")
    return f"{named}, {COLOR_WORDS.get(colors, colors)}"
