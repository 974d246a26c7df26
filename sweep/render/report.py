"""`DIR/index.html`: a static report of a run that works from file:// (no server,
no network, no external assets).

For every photo (a section each in a gallery run):

- a comparison view when the photo has two or more artists: one tile per artist
  and one slider that moves every tile through the content weights at once, with
  links to ``compare.mp4`` / ``.gif`` / ``.png``;
- per artist: a frame explorer (a slider that scrubs the content weight and shows
  that frame, its weight and its content/style losses, the balanced frame marked,
  and the matching ``sweep pick`` command line), the sweep movie (``movie.mp4``, or
  ``movie.gif`` when there is no MP4), the contact sheet with the trade-off curve,
  and ``progress.gif`` when the run recorded one.

Left/Right (and Home/End) step the slider that was used last (the focused one
when a slider has the focus). The report only reads stored files (``frames.json``,
the PNGs, the movies); every URL is relative, so the folder can be moved or
zipped. The page is `templates/report.html.j2` (with `report.css` and `report.js`
inlined), rendered by Jinja2 with autoescape on, so every name from the config is
HTML-escaped; the data the script reads is embedded as JSON with ``<``, ``>`` and
``&`` escaped, so no name can close the script element.
"""
from __future__ import annotations

import functools
import importlib.resources
import math
import os
import shlex
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import quote

import jinja2
import markupsafe
import yaml
from PIL import Image

from sweep.atomic import write_text
from sweep.errors import SweepError
from sweep.balance import balanced_position
from sweep.layout import (CONFIG_FILE, MOVIE_KINDS, PROGRESS_GIF, RECORDS_FILE, REPORT_FILE, SHEET_FILE,
                          compare_file, load_records, movie_file, same_weights)
from sweep.render.artist_summary import artist_summary
from sweep.weight_text import format_weight

TEMPLATES = "templates"
PAGE_TEMPLATE = "report.html.j2"


# --------------------------------------------------------------------------- gathering

def _url(run_dir: Path, path: Path) -> str:
    """`path` relative to the report, percent-encoded segment by segment."""
    relative = Path(os.path.relpath(Path(path).resolve(), run_dir.resolve()))
    return "/".join(quote(part) for part in relative.parts)


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _existing(run_dir: Path, folder: Path, *names: str) -> dict[str, str]:
    return {Path(name).suffix.lstrip("."): _url(run_dir, folder / name) for name in names
            if (folder / name).is_file()}


def _job_data(run_dir: Path, job_id: str, artist: str, job_dir: Path) -> dict | None:
    try:
        records = load_records(job_dir)
    except SweepError:
        return None
    records = [r for r in records if (job_dir / r["file"]).is_file()]
    if not records:
        return None
    suggested = balanced_position(records)
    try:
        with Image.open(job_dir / records[0]["file"]) as image:
            width, height = image.size
    except OSError:
        width = height = 0
    frames = [{
        "index": int(r["index"]),
        "weight": float(r["content_weight"]),
        "label": format_weight(float(r["content_weight"])),
        "content": _number(r.get("content_loss")),
        "style": _number(r.get("style_loss")),
        "src": _url(run_dir, job_dir / r["file"]),
    } for r in records]
    try:
        shown_dir = os.path.relpath(job_dir.resolve(), Path.cwd())
        shown_dir = shown_dir if not shown_dir.startswith("..") else str(job_dir)
    except ValueError:
        shown_dir = str(job_dir)
    return {
        "id": job_id, "name": artist, "frames": frames, "suggested": suggested,
        "width": width, "height": height,
        "movie": _existing(run_dir, job_dir, *map(movie_file, MOVIE_KINDS)),
        "sheet": _existing(run_dir, job_dir, SHEET_FILE).get("png"),
        "progress": _existing(run_dir, job_dir, PROGRESS_GIF).get("gif"),
        "records": _url(run_dir, job_dir / RECORDS_FILE),
        "pick": f"sweep pick {shlex.quote(shown_dir)} --frame ",
        "summary": artist_summary(records),  # its paintings, weights and colours
    }


def _same_weights(artists: Sequence[dict]) -> bool:
    reference = [f["weight"] for f in artists[0]["frames"]]
    return all(same_weights([f["weight"] for f in artist["frames"]], reference) for artist in artists[1:])


def _run_summary(run_dir: Path) -> list[str]:
    try:
        raw = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    facts = []
    try:
        facts.append(f"frames up to {int(raw['image']['max_size'])} px")
        opt = raw["optimizer"]
        facts.append(f"{opt['name']}, up to {int(opt['iterations'])} iterations")
        facts.append(f"style weight {format_weight(float(raw['sweep']['style_weight']))}, "
                     f"TV weight {format_weight(float(raw['sweep']['tv_weight']))}")
    except (KeyError, TypeError, ValueError):
        pass
    return facts


# --------------------------------------------------------------------------- HTML

def _loss(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.3g}"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Jinja2 over the package's templates, read with importlib.resources; escaping on."""
    folder = importlib.resources.files("sweep.render") / TEMPLATES

    def load(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    environment = jinja2.Environment(loader=jinja2.FunctionLoader(load), autoescape=True,
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters["loss"] = _loss
    # tojson escapes <, >, & and ' for the <script> block; a NaN would not be JSON at all.
    environment.policies["json.dumps_kwargs"] = {"sort_keys": False, "allow_nan": False}
    return environment


def _asset(name: str) -> markupsafe.Markup:
    """A stylesheet or script of the templates folder, inlined as it is."""
    return markupsafe.Markup((importlib.resources.files("sweep.render") / TEMPLATES / name).read_text("utf-8"))


def write_report(run_dir: str | os.PathLike, groups: Mapping[str, Mapping[str, str | os.PathLike]]) -> Path:
    """Write `run_dir/index.html` and return its path.

    `groups`: photo name -> {artist name: job directory}, in display order (photo ""
    for a run of one photo). Jobs without stored frames are left out; the run's
    settings are read from `run_dir/config.yaml`.
    """
    run = Path(run_dir)
    photos = []
    for p, (photo, artists) in enumerate(groups.items()):
        jobs = [_job_data(run, f"p{p}a{a}", str(artist), Path(job_dir))
                for a, (artist, job_dir) in enumerate(artists.items())]
        jobs = [job for job in jobs if job is not None]
        if not jobs:
            continue
        compare = _existing(run, Path(next(iter(artists.values()))).parent,
                            *map(compare_file, ("png", *MOVIE_KINDS)))
        photos.append({
            "id": f"p{p}", "name": str(photo), "artists": jobs, "compare": compare,
            "compare_movies": {kind: url for kind, url in compare.items() if kind in MOVIE_KINDS},
            "comparable": len(jobs) > 1 and _same_weights(jobs),
        })
    gallery = len(photos) > 1 or any(
        Path(d).resolve().parent != run.resolve() for a in groups.values() for d in a.values())
    data = {"photos": [{"id": p["id"], "artists": [
        {k: j[k] for k in ("id", "name", "frames", "suggested", "pick")} for j in p["artists"]]}
        for p in photos]}
    page = _environment().get_template(PAGE_TEMPLATE).render(
        title=run.resolve().name, facts=_facts(run, photos), photos=photos, gallery=gallery,
        records_file=RECORDS_FILE, data=data,
        css=_asset("report.css"), js=_asset("report.js"))
    target = run / REPORT_FILE
    write_text(target, page)
    return target


def _facts(run_dir: Path, photos: list[dict]) -> list[str]:
    frames = sum(len(j["frames"]) for p in photos for j in p["artists"])
    artist_names = list(dict.fromkeys(j["name"] for p in photos for j in p["artists"]))
    facts = [f"{len(photos)} photo{'s' if len(photos) != 1 else ''}",
             f"{len(artist_names)} artist{'s' if len(artist_names) != 1 else ''}",
             f"{frames} frame{'s' if frames != 1 else ''}"]
    if photos:
        weights = [f["weight"] for f in photos[0]["artists"][0]["frames"]]
        facts.append(f"content weight {format_weight(weights[0])} \u2192 {format_weight(weights[-1])}")
    return facts + _run_summary(run_dir)
