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
zipped. Every name from the config is HTML-escaped, and the data the script reads
is embedded as JSON with ``<``, ``>`` and ``&`` escaped, so no name can close the
script element.
"""
from __future__ import annotations

import html
import json
import math
import os
import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import yaml
from PIL import Image

from sweep.atomic import write_text
from sweep.errors import SweepError
from sweep.render.artist import artist_summary
from sweep.render.frames import format_weight, load_records, suggested_position
from sweep.render.sheet import suggest_balanced

REPORT_FILE = "index.html"
WEIGHT_TOLERANCE = 1e-6


# --------------------------------------------------------------------------- gathering

def _groups(run_dir: Path, plan_or_job_dirs: Any) -> dict[str, dict[str, Path]]:
    """photo name -> artist name -> job directory, in run order."""
    groups: dict[str, dict[str, Path]] = {}
    if hasattr(plan_or_job_dirs, "jobs"):  # a sweep.plan.Plan
        for job in plan_or_job_dirs.jobs:
            groups.setdefault(job.photo, {})[job.artist] = run_dir / job.relative_dir
    elif isinstance(plan_or_job_dirs, Mapping):
        for photo, artists in plan_or_job_dirs.items():
            groups[str(photo)] = {str(artist): Path(path) for artist, path in artists.items()}
    else:
        for path in plan_or_job_dirs:
            path = Path(path)
            photo = "" if path.resolve().parent == run_dir.resolve() else path.parent.name
            groups.setdefault(photo, {})[path.name] = path
    return groups


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
    suggested = suggested_position(records)
    if suggested is None:
        suggested = suggest_balanced(records)
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
        "movie": _existing(run_dir, job_dir, "movie.mp4", "movie.gif"),
        "sheet": _existing(run_dir, job_dir, "sheet.png").get("png"),
        "progress": _existing(run_dir, job_dir, "progress.gif").get("gif"),
        "records": _url(run_dir, job_dir / "frames.json"),
        "pick": f"sweep pick {shlex.quote(shown_dir)} --frame ",
        "style": artist_summary(records),
    }


def _same_weights(artists: Sequence[dict]) -> bool:
    reference = [f["weight"] for f in artists[0]["frames"]]
    for artist in artists[1:]:
        weights = [f["weight"] for f in artist["frames"]]
        if len(weights) != len(reference) or not all(
                math.isclose(a, b, rel_tol=WEIGHT_TOLERANCE) for a, b in zip(weights, reference)):
            return False
    return True


def _run_summary(run_dir: Path, plan: Any) -> list[str]:
    config = getattr(plan, "config", None)
    if config is not None:
        raw = config.to_dict()
    else:
        try:
            raw = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
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

def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _loss(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.3g}"


def _links(label: str, files: Mapping[str, str]) -> str:
    if not files:
        return ""
    items = " ".join(f'<a href="{_e(url)}" download>{_e(kind.upper())}</a>' for kind, url in files.items())
    return f'<span class="links">{_e(label)} {items}</span>'


def _viewer_html(job: dict) -> str:
    pos = job["suggested"]
    frame = job["frames"][pos]
    n = len(job["frames"])
    small = " px" if 0 < min(job["width"], job["height"]) < 256 else ""
    return f"""
      <div class="viewer" data-job="{_e(job['id'])}">
        <div class="stage{small}">
          <img class="frame" src="{_e(frame['src'])}" alt="{_e(job['name'])}: the selected frame"
               width="{job['width']}" height="{job['height']}">
          <span class="badge balanced-badge">balanced</span>
        </div>
        <input class="scrub" type="range" min="0" max="{n - 1}" step="1" value="{pos}"
               aria-label="{_e(job['name'])}: content weight">
        <div class="scale"><span>&larr; photo</span><span>style &rarr;</span></div>
        <dl class="stats">
          <div><dt>content weight</dt><dd class="v-weight">{_e(frame['label'])}</dd></div>
          <div><dt>frame</dt><dd class="v-frame">#{frame['index']:02d} of {n}</dd></div>
          <div><dt>content loss</dt><dd class="v-content">{_e(_loss(frame['content']))}</dd></div>
          <div><dt>style loss</dt><dd class="v-style">{_e(_loss(frame['style']))}</dd></div>
        </dl>
        <div class="actions">
          <button type="button" class="to-balanced">Jump to the balanced frame</button>
          <code class="pick" title="re-render this frame at full size">{_e(job['pick'])}{frame['index']} --size 1024</code>
        </div>
      </div>"""


def _artist_html(job: dict) -> str:
    movie = job["movie"]
    if "mp4" in movie:
        poster = job["frames"][job["suggested"]]["src"]
        player = (f'<video src="{_e(movie["mp4"])}" poster="{_e(poster)}" controls loop muted playsinline '
                  f'preload="metadata"></video>')
    elif "gif" in movie:
        player = f'<img src="{_e(movie["gif"])}" alt="{_e(job["name"])}: the sweep movie">'
    else:
        player = '<p class="muted">No movie was rendered.</p>'
    sheet = ""
    if job["sheet"]:
        sheet = f"""
      <figure class="sheet">
        <a href="{_e(job['sheet'])}"><img src="{_e(job['sheet'])}"
           alt="{_e(job['name'])}: contact sheet and trade-off curve"></a>
        <figcaption>Contact sheet and content/style trade-off; the balanced frame (knee of the curve) is
          outlined.</figcaption>
      </figure>"""
    progress = ""
    if job["progress"]:
        progress = f"""
      <figure class="progress-gif">
        <img src="{_e(job['progress'])}" alt="{_e(job['name'])}: optimisation progress">
        <figcaption>The balanced frame taking shape, step by step.</figcaption>
      </figure>"""
    n = len(job["frames"])
    size = f" &middot; {job['width']}&times;{job['height']} px" if job["width"] else ""
    return f"""
    <article class="card artist" id="{_e(job['id'])}">
      <header class="card-head">
        <h3>{_e(job['name'])}</h3>
        <span class="muted">{n} frame{'s' if n != 1 else ''}{size}</span>
        <span class="muted style-summary">{_e(job['style'])}</span>
        <span class="spacer"></span>
        {_links('movie', movie)}
        <a class="links" href="{_e(job['records'])}">frames.json</a>
      </header>
      <div class="cols">
        {_viewer_html(job)}
        <figure class="movie">
          {player}
          <figcaption>The sweep movie, photo to style.</figcaption>
        </figure>
      </div>{sheet}{progress}
    </article>"""


def _compare_html(photo: dict) -> str:
    artists = photo["artists"]
    pos = artists[0]["suggested"]
    n = len(artists[0]["frames"])
    small = " px" if 0 < min(artists[0]["width"], artists[0]["height"]) < 256 else ""
    tiles = "".join(f"""
          <figure class="tile">
            <div class="stage{small}"><img src="{_e(a['frames'][pos]['src'])}" data-job="{_e(a['id'])}"
                 alt="{_e(a['name'])}" width="{a['width']}" height="{a['height']}"></div>
            <figcaption><a href="#{_e(a['id'])}">{_e(a['name'])}</a>
              <span class="muted style-summary">{_e(a['style'])}</span></figcaption>
          </figure>""" for a in artists)
    table = ""
    if "png" in photo["compare"]:
        table = f"""
        <details class="table">
          <summary>Comparison table: every artist at every content weight</summary>
          <a href="{_e(photo['compare']['png'])}"><img src="{_e(photo['compare']['png'])}" loading="lazy"
             alt="comparison table"></a>
        </details>"""
    movies = {k: v for k, v in photo["compare"].items() if k in ("mp4", "gif")}
    return f"""
    <article class="card compare" data-compare="{_e(photo['id'])}">
      <header class="card-head">
        <h3>All artists, one slider</h3>
        <span class="muted">{len(artists)} artists &middot; the same photo and weights</span>
        <span class="spacer"></span>
        {_links('comparison movie', movies)}
      </header>
      <div class="tiles">{tiles}
      </div>
      <input class="scrub" type="range" min="0" max="{n - 1}" step="1" value="{pos}"
             aria-label="content weight of every artist">
      <div class="scale"><span>&larr; photo</span>
        <span class="caption">content weight <b class="v-weight">{_e(artists[0]['frames'][pos]['label'])}</b></span>
        <span>style &rarr;</span></div>{table}
    </article>"""


def _photo_html(photo: dict, gallery: bool) -> str:
    title = f"<h2>{_e(photo['name'])}</h2>" if gallery or photo["name"] else ""
    compare = _compare_html(photo) if photo.get("comparable") else ""
    artists = "".join(_artist_html(a) for a in photo["artists"])
    return f"""
  <section class="photo" id="{_e(photo['id'])}">
    {title}{compare}{artists}
  </section>"""


def _json_for_script(data: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' survive literally."""
    return (json.dumps(data, ensure_ascii=False, allow_nan=False)
            .replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def write_report(run_dir: str | os.PathLike, plan_or_job_dirs: Any) -> Path:
    """Write `run_dir/index.html` and return its path.

    `plan_or_job_dirs`: a `sweep.plan.Plan`; or a mapping photo name -> {artist name:
    job directory}; or a sequence of job directories (a job directly under `run_dir`
    belongs to photo "", one under `run_dir/PHOTO/` to PHOTO). Jobs without stored
    frames are left out.
    """
    run = Path(run_dir)
    groups = _groups(run, plan_or_job_dirs)
    photos = []
    for p, (photo, artists) in enumerate(groups.items()):
        jobs = [_job_data(run, f"p{p}a{a}", artist, Path(job_dir))
                for a, (artist, job_dir) in enumerate(artists.items())]
        jobs = [job for job in jobs if job is not None]
        if not jobs:
            continue
        compare_dir = Path(next(iter(artists.values()))).parent
        photos.append({
            "id": f"p{p}", "name": photo, "artists": jobs,
            "comparable": len(jobs) > 1 and _same_weights(jobs),
            "compare": _existing(run, compare_dir, "compare.png", "compare.mp4", "compare.gif"),
        })
    gallery = len(photos) > 1 or any(
        Path(d).resolve().parent != run.resolve() for a in groups.values() for d in a.values())
    frames = sum(len(j["frames"]) for p in photos for j in p["artists"])
    artist_names = list(dict.fromkeys(j["name"] for p in photos for j in p["artists"]))
    facts = [f"{len(photos)} photo{'s' if len(photos) != 1 else ''}",
             f"{len(artist_names)} artist{'s' if len(artist_names) != 1 else ''}",
             f"{frames} frame{'s' if frames != 1 else ''}"]
    if photos:
        weights = [f["weight"] for f in photos[0]["artists"][0]["frames"]]
        facts.append(f"content weight {format_weight(weights[0])} \u2192 {format_weight(weights[-1])}")
    facts += _run_summary(run, plan_or_job_dirs)
    nav = ""
    if photos:
        items = "".join(
            f'<li><a href="#{_e(p["id"])}">{_e(p["name"] or "photo")}</a>: '
            + ", ".join(f'<a href="#{_e(j["id"])}">{_e(j["name"])}</a>' for j in p["artists"]) + "</li>"
            for p in photos)
        nav = f'<nav><ul>{items}</ul></nav>'
    body = "".join(_photo_html(p, gallery) for p in photos) or \
        '<p class="empty">This run has no finished frames yet.</p>'
    title = run.resolve().name
    data = {"photos": [{"id": p["id"], "artists": [
        {k: j[k] for k in ("id", "name", "frames", "suggested", "pick")} for j in p["artists"]]}
        for p in photos]}
    page = _TEMPLATE.format(
        title=_e(title), facts=" &middot; ".join(_e(f) for f in facts), nav=nav, body=body,
        data=_json_for_script(data), css=_CSS, js=_JS)
    target = run / REPORT_FILE
    write_text(target, page)
    return target


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; sweep report</title>
<style>{css}</style>
</head>
<body>
<header class="top">
  <div class="wrap">
    <p class="kicker">sweep &middot; content-weight sweep report</p>
    <h1>{title}</h1>
    <p class="facts">{facts}</p>
    {nav}
    <p class="hint">Drag a slider, or use <kbd>&larr;</kbd> <kbd>&rarr;</kbd> to step through the frames
      of the slider you used last. The <span class="swatch"></span> balanced frame is the knee of the
      content/style trade-off.</p>
  </div>
</header>
<main class="wrap">{body}
</main>
<footer class="wrap muted">Generated by <code>sweep</code> from the stored frames; every link is relative,
  so this folder can be moved or zipped.</footer>
<script type="application/json" id="sweep-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""

_CSS = """
:root { --paper: #f6f5f1; --card: #fff; --ink: #222226; --muted: #6e6e76; --line: #e4e2dc;
  --accent: #ff9900; --accent-ink: #8a4b00; --blue: #2f6db5; --red: #c2452d; }
* { box-sizing: border-box; }
html { background: var(--paper); }
body { margin: 0; color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
.top { background: #1d1d22; color: #f1f0ec; padding: 28px 0 22px; margin-bottom: 28px; }
.top a { color: #ffc266; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .12em; font-size: 12px; color: #a9a8b0; }
h1 { margin: 4px 0 6px; font-size: 30px; font-weight: 700; letter-spacing: -.01em; word-break: break-word; }
h2 { font-size: 22px; margin: 8px 0 14px; padding-bottom: 6px; border-bottom: 2px solid var(--line);
  word-break: break-word; }
h3 { margin: 0; font-size: 18px; word-break: break-word; }
.facts { margin: 0 0 10px; color: #cfcdd4; }
nav ul { margin: 0 0 10px; padding-left: 18px; color: #cfcdd4; }
.hint { margin: 0; font-size: 13px; color: #a9a8b0; }
kbd { display: inline-block; padding: 0 6px; border: 1px solid #55545c; border-bottom-width: 2px;
  border-radius: 4px; font: 12px/18px ui-monospace, monospace; color: #f1f0ec; background: #2a2a31; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 3px solid var(--accent);
  border-radius: 2px; vertical-align: -1px; }
.muted { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  box-shadow: 0 1px 2px rgba(0,0,0,.04), 0 4px 14px rgba(0,0,0,.04); padding: 18px 20px; margin: 0 0 22px; }
.card-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 14px; margin-bottom: 14px; }
.spacer { flex: 1; }
.links { font-size: 13px; color: var(--muted); }
.links a, a.links { margin-left: 6px; color: var(--blue); text-decoration: none; font-weight: 600; }
.links a:hover, a.links:hover { text-decoration: underline; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 22px; align-items: start; }
@media (max-width: 820px) { .cols { grid-template-columns: minmax(0, 1fr); } }
figure { margin: 0; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
.stage { position: relative; background: #111114; border-radius: 6px; overflow: hidden; line-height: 0; }
.stage img { display: block; width: 100%; height: auto; }
.stage.px img { image-rendering: pixelated; }
.badge { position: absolute; top: 8px; left: 8px; line-height: 1.2; padding: 3px 8px; border-radius: 4px;
  font-size: 12px; font-weight: 700; background: var(--accent); color: #1b1b1b; display: none; }
.viewer.is-balanced .badge { display: inline-block; }
.viewer.is-balanced .stage { box-shadow: 0 0 0 3px var(--accent); }
input[type=range] { width: 100%; margin: 14px 0 2px; accent-color: var(--accent); cursor: pointer; }
input[type=range].active { outline: 2px solid rgba(255,153,0,.45); outline-offset: 4px; border-radius: 4px; }
.scale { display: flex; justify-content: space-between; align-items: baseline; font-size: 12px;
  color: var(--muted); }
.caption { font-size: 15px; color: var(--ink); }
.stats { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 8px; margin: 12px 0 10px; }
.stats div { background: var(--paper); border-radius: 6px; padding: 6px 10px; }
.stats dt { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.stats dd { margin: 0; font: 600 16px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.stats .v-content { color: var(--blue); } .stats .v-style { color: var(--red); }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
button { font: inherit; font-size: 13px; padding: 5px 12px; border-radius: 6px; border: 1px solid var(--accent);
  background: #fff7eb; color: var(--accent-ink); cursor: pointer; }
button:hover { background: #ffedd1; }
code.pick { font-size: 12px; background: var(--paper); border-radius: 6px; padding: 5px 8px; color: #3a3a40;
  overflow-wrap: anywhere; }
.movie video, .movie > img { display: block; width: 100%; border-radius: 6px; background: #111114; }
.sheet, .progress-gif { margin-top: 18px; }
.sheet img { display: block; width: 100%; height: auto; border-radius: 6px; border: 1px solid var(--line); }
.progress-gif img { display: block; max-width: 360px; width: 100%; border-radius: 6px; }
.compare { background: #1d1d22; color: #f1f0ec; border-color: #1d1d22; }
.compare .muted, .compare .scale, .compare .links { color: #a9a8b0; }
.compare .caption { color: #f1f0ec; }
.compare .links a { color: #ffc266; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 300px)); justify-content: center; gap: 16px; }
.tile figcaption { text-align: center; font-weight: 600; margin-top: 6px; }
.tile figcaption a { color: #f1f0ec; text-decoration: none; }
.tile figcaption a:hover { text-decoration: underline; }
details.table { margin-top: 14px; }
details.table summary { cursor: pointer; color: #ffc266; font-size: 13px; }
details.table img { display: block; width: 100%; margin-top: 10px; border-radius: 6px; }
.empty { font-size: 17px; color: var(--muted); }
footer { padding: 10px 24px 40px; font-size: 12px; }
"""

_JS = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("sweep-data").textContent);
  var jobs = {}, photos = {};
  DATA.photos.forEach(function (p) {
    photos[p.id] = p;
    p.artists.forEach(function (a) { jobs[a.id] = a; });
  });
  function loss(v) { return (typeof v === "number" && isFinite(v)) ? Number(v.toPrecision(3)).toString() : "\u2013"; }
  function pad(i) { return (i < 10 ? "0" : "") + i; }
  function setText(root, sel, text) { var el = root.querySelector(sel); if (el) el.textContent = text; }

  function showJob(viewer, pos) {
    var job = jobs[viewer.getAttribute("data-job")];
    var f = job.frames[pos];
    viewer.querySelector("img.frame").src = f.src;
    setText(viewer, ".v-weight", f.label);
    setText(viewer, ".v-frame", "#" + pad(f.index) + " of " + job.frames.length);
    setText(viewer, ".v-content", loss(f.content));
    setText(viewer, ".v-style", loss(f.style));
    setText(viewer, "code.pick", job.pick + f.index + " --size 1024");
    viewer.classList.toggle("is-balanced", pos === job.suggested);
  }
  function showCompare(box, pos) {
    var photo = photos[box.getAttribute("data-compare")];
    box.querySelectorAll("img[data-job]").forEach(function (img) {
      img.src = jobs[img.getAttribute("data-job")].frames[pos].src;
    });
    setText(box, ".v-weight", photo.artists[0].frames[pos].label);
  }
  function update(slider) {
    var pos = parseInt(slider.value, 10);
    var viewer = slider.closest(".viewer"), box = slider.closest("[data-compare]");
    if (viewer) showJob(viewer, pos); else if (box) showCompare(box, pos);
  }

  var sliders = Array.prototype.slice.call(document.querySelectorAll("input.scrub"));
  var active = null;
  function activate(slider) {
    if (active) active.classList.remove("active");
    active = slider;
    if (active) active.classList.add("active");
  }
  sliders.forEach(function (slider) {
    slider.addEventListener("input", function () { activate(slider); update(slider); });
    slider.addEventListener("focus", function () { activate(slider); });
    update(slider);
  });
  activate(sliders[0] || null);

  document.querySelectorAll(".viewer .to-balanced").forEach(function (button) {
    button.addEventListener("click", function () {
      var viewer = button.closest(".viewer"), slider = viewer.querySelector("input.scrub");
      slider.value = jobs[viewer.getAttribute("data-job")].suggested;
      activate(slider); update(slider);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || !active) return;
    var t = event.target, tag = t && t.tagName;
    if (t && t.classList && t.classList.contains("scrub")) return;  // the browser steps a focused slider
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || tag === "VIDEO" || (t && t.isContentEditable)) return;
    var max = parseInt(active.max, 10), pos = parseInt(active.value, 10), next = pos;
    if (event.key === "ArrowRight") next = Math.min(max, pos + 1);
    else if (event.key === "ArrowLeft") next = Math.max(0, pos - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = max;
    else return;
    event.preventDefault();
    if (next !== pos) { active.value = next; update(active); }
  });

  window.addEventListener("load", function () {  // warm the cache so scrubbing is instant
    Object.keys(jobs).forEach(function (id) {
      jobs[id].frames.forEach(function (f) { var img = new Image(); img.src = f.src; });
    });
  });
})();
"""
