"""`sweep pick`, the HTML report and the progress GIF, on one real tiny run
(tests/_tiny_run.py) plus small synthetic frame stores for the pure cases."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import markupsafe
import numpy as np
import pytest
from PIL import Image

from sweep.errors import SweepError
from sweep.images import read_png, resize_to
from sweep.pick import choose, find_run_dir, pick
from sweep.render.report import write_report

from ._tiny_run import ARTISTS, FRAMES, NASTY, PROGRESS_EVERY, SIZE, tiny_run
from .conftest import psnr

REPO = Path(__file__).resolve().parents[1]
# Measured on the tiny run (48 -> 96 px, 12 iterations): the balanced frame about 23 dB
# (21 dB after 30 iterations), the other frames 24-33 dB; Laplacian variance 2-8x that
# of the Lanczos-upsampled preview.
MIN_PSNR_DB = 20.0
MIN_SHARPNESS_RATIO = 1.5


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory)


def records_of(job: Path) -> list[dict]:
    return json.loads((job / "frames.json").read_text())


def laplacian_variance(image: np.ndarray) -> float:
    g = image.astype(np.float64).mean(axis=2)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(lap.var())


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "sweep.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


# --------------------------------------------------------------------------- choosing (pure)

RECORDS = [{"index": i, "content_weight": w, "file": f"frames/f{i:03d}.png", "suggested": i == 2}
           for i, w in enumerate([100.0, 10.0, 1.0, 0.1])]


def test_choose_by_frame_weight_and_suggestion():
    assert choose(RECORDS, frame=3)["index"] == 3
    assert choose(RECORDS, suggested=True)["index"] == 2
    # nearest in log space: 4 is nearer 10 than 1 (log10 distances 0.40 vs 0.60),
    # though linearly it is nearer 1
    assert choose(RECORDS, weight=4)["index"] == 1
    assert choose(RECORDS, weight=3)["index"] == 2
    assert choose(RECORDS, weight=0.2)["index"] == 3
    assert choose(RECORDS, weight=1e6)["index"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"frame": 7}, "frame 7 is out of range: this job has frames 0..3"),
    ({"frame": -1}, "out of range"),
    ({"weight": 0.0}, "--weight must be a positive number"),
    ({"weight": -2.0}, "--weight must be a positive number"),
    ({}, "exactly one of"),
    ({"frame": 1, "suggested": True}, "exactly one of"),
])
def test_choose_errors(kwargs, message):
    with pytest.raises(SweepError, match=re.escape(message)):
        choose(RECORDS, **kwargs)


def test_choose_without_suggestion():
    records = [dict(r, suggested=False) for r in RECORDS]
    with pytest.raises(SweepError, match="no suggested frame"):
        choose(records, suggested=True)


# --------------------------------------------------------------------------- pick on the real run

def test_pick_copies_frames_byte_identical(run_dir, tmp_path):
    job = run_dir / "brushstrokes"
    records = records_of(job)
    flagged = [r for r in records if r["suggested"]]
    assert len(flagged) == 1
    cases = [({"frame": 2}, records[2]), ({"weight": 4.0}, records[1]), ({"suggested": True}, flagged[0])]
    for kwargs, expected in cases:
        out = tmp_path / f"{'_'.join(kwargs)}.png"
        result = pick(job, out=out, **kwargs)
        assert result.path == out and not result.rerendered
        assert result.index == expected["index"]
        assert out.read_bytes() == (job / expected["file"]).read_bytes()
    default = pick(job, frame=1)  # default name beside the frames
    assert default.path == job / "pick_f001_cw-10.000.png"
    assert default.path.read_bytes() == (job / records[1]["file"]).read_bytes()
    default.path.unlink()


def test_pick_rerender_at_twice_the_size_matches_the_preview(run_dir, tmp_path):
    job = run_dir / "brushstrokes"
    record = [r for r in records_of(job) if r["suggested"]][0]
    preview = read_png(job / record["file"])
    result = pick(job, suggested=True, size=2 * SIZE, iterations=12, out=tmp_path / "big.png")
    big = read_png(result.path)
    assert result.rerendered and result.index == record["index"]
    assert big.shape[:2] == (2 * preview.shape[0], 2 * preview.shape[1])
    assert max(big.shape[:2]) == 2 * SIZE
    # same composition and colours: the re-render shrunk back to the preview's size
    assert psnr(resize_to(big, preview.shape[:2]), preview) >= MIN_PSNR_DB
    # and sharper than the preview merely upsampled
    upsampled = resize_to(preview, big.shape[:2])
    assert laplacian_variance(big) >= MIN_SHARPNESS_RATIO * laplacian_variance(upsampled)


def test_pick_errors(run_dir, tmp_path):
    job = run_dir / "brushstrokes"
    with pytest.raises(SweepError, match="job directory not found"):
        pick(run_dir / "nobody", frame=0)
    with pytest.raises(SweepError, match="has no frames.json"):
        pick(run_dir, frame=0)
    for size in (15, 4097):
        with pytest.raises(SweepError, match="--size must be between 16 and 4096"):
            pick(job, frame=0, size=size)
    with pytest.raises(SweepError, match="--out must name a .png"):
        pick(job, frame=0, out=tmp_path / "x.jpg")
    with pytest.raises(SweepError, match="--iterations applies to a re-render"):
        pick(job, frame=0, iterations=3)


def test_a_rerender_is_refused_when_the_inputs_changed_since_the_run(run_dir, tmp_path):
    """The manifest's digest of the photo's and paintings' pixels no longer matches (as
    after a photo replaced under its name): a re-render would start from the old picture
    and optimise towards the new one. Copying the frame stays allowed."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    job = copy / "brushstrokes"
    assert "would re-render frame 1" in pick(job, frame=1, size=64, dry_run=True).plan
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["jobs"]["brushstrokes"]["inputs_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SweepError, match="the photo or a painting of brushstrokes changed since the run"):
        pick(job, frame=1, size=64, dry_run=True)
    assert pick(job, frame=1, out=tmp_path / "copied.png").rerendered is False


@pytest.mark.parametrize("key, value", [("image", {"style_scale": 0.8}), ("optimizer", {"iterations": 3})])
def test_a_rerender_is_refused_when_config_yaml_was_edited_since_the_run(run_dir, tmp_path, key, value):
    """An edited config.yaml is no longer the config the frames were made with: the
    refusal says so and names --set, not a changed photo (the input digest is taken at the
    config's sizes, so an edited style_scale changes it too) and not silently used."""
    import shutil

    import yaml

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config[key].update(value)
    (copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    bad = cli("pick", copy / "brushstrokes", "--suggested", "--size", 64, "--dry-run")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        f"error: {copy / 'config.yaml'} was edited since the run made its frames (it no longer matches the config "
        f"hash in manifest.json); restore it, and change settings for the re-render with --set KEY=VALUE "
        f"(or make the frames again from the edited config with `sweep run --force`)"]


def test_a_rerender_beyond_the_memory_budget_names_size_as_what_to_lower(run_dir):
    """In pick the frame's side is --size (image.max_size is set from it), so that is what
    the refusal says to lower; `sweep run` names image.max_size (tests/test_tiles.py)."""
    bad = cli("pick", run_dir / "brushstrokes", "--suggested", "--size", 4096,
              "--set", "runtime.memory_budget_mb=200", "--dry-run")
    assert bad.returncode == 2 and bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: a 3495x4096 frame does not fit the 200 MB memory budget")
    assert lines[0].endswith("; raise runtime.memory_budget_mb, or lower --size or image.style_scale"), lines[0]


def test_pick_cli(run_dir, tmp_path):
    job = run_dir / "brushstrokes"
    out = tmp_path / "cli.png"
    ok = cli("pick", job, "--frame", 3, "--out", out)
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes() == (job / records_of(job)[3]["file"]).read_bytes()
    assert f"wrote {out}" in ok.stdout
    for args, message in [
        (("pick", job, "--frame", 99), "error: frame 99 is out of range: this job has frames 0..3"),
        (("pick", run_dir / "missing", "--suggested"), "error: job directory not found"),
        (("pick", job, "--frame", 0, "--size", 8), "error: --size must be between 16 and 4096"),
        (("pick", job), "error: one of the arguments --frame --weight --suggested is required"),
        (("pick", job, "--frame", 1, "--weight", 2), "error: argument --weight: not allowed with argument --frame"),
    ]:
        bad = cli(*args)
        assert bad.returncode == 2
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), bad.stderr
        assert "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- synthetic stores

def write_store(job: Path, n: int = 3, size=(12, 16), suggested: int = 1) -> None:
    (job / "frames").mkdir(parents=True)
    records = []
    for i, w in enumerate(np.geomspace(100, 0.1, n)):
        name = f"f{i:03d}_cw-{w:.3f}.png"
        Image.fromarray(np.full((*size, 3), 40 * i, np.uint8)).save(job / "frames" / name)
        records.append({"index": i, "content_weight": float(w), "content_loss": 0.1 * i,
                        "style_loss": 1 - 0.3 * i, "file": f"frames/{name}", "suggested": i == suggested})
    (job / "frames.json").write_text(json.dumps(records))


def test_pick_walks_up_to_the_gallery_config(tmp_path):
    run = tmp_path / "gallery"
    job = run / "photo one" / "artist & co"
    write_store(job)
    with pytest.raises(SweepError, match="no config.yaml found above"):
        find_run_dir(job)
    (run / "config.yaml").write_text("content: [a.png]\nstyles: {x: y.png}\n")
    assert find_run_dir(job) == run.resolve()
    result = pick(job, suggested=True, out=tmp_path / "s.png")
    assert result.index == 1 and (tmp_path / "s.png").read_bytes() == (job / "frames/f001_cw-3.162.png").read_bytes()


# --------------------------------------------------------------------------- the report

class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        for key in ("src", "href", "poster"):
            if attrs.get(key):
                self.urls.append(attrs[key])


def local_targets(report: Path, page: str) -> list[Path]:
    parser = Links()
    parser.feed(page)
    data = json.loads(re.search(r'<script type="application/json" id="sweep-data">(.*?)</script>',
                                page, re.S).group(1))
    urls = parser.urls + [f["src"] for p in data["photos"] for a in p["artists"] for f in a["frames"]]
    targets = []
    for url in urls:
        if url.startswith("#"):
            continue
        parsed = urlparse(url)
        assert not parsed.scheme and not parsed.netloc and not url.startswith("/"), f"not relative: {url}"
        targets.append(report.parent / unquote(parsed.path))
    return targets


def test_report_of_the_real_run(run_dir):
    report = run_dir / "index.html"
    assert report.is_file()
    page = report.read_text(encoding="utf-8")
    targets = local_targets(report, page)
    missing = [str(t) for t in targets if not t.is_file()]
    assert not missing, missing
    names = {t.relative_to(run_dir).as_posix() for t in targets}
    for artist in ARTISTS:
        for kind in ("movie.mp4", "sheet.png", "progress.gif"):
            assert f"{artist}/{kind}" in names, kind
    assert {"compare.png", "compare.mp4", "compare.gif"} <= names
    parser = Links()
    parser.feed(page)
    sliders = [a for tag, a in parser.tags if tag == "input" and a.get("type") == "range"]
    assert len(sliders) == len(ARTISTS) + 1  # one per artist and the comparison
    assert all(a["max"] == str(FRAMES - 1) for a in sliders)
    assert sum(tag == "video" for tag, _ in parser.tags) == len(ARTISTS)
    # the nasty name only ever appears escaped, in the HTML and in the embedded JSON
    assert NASTY not in page and "<i>" not in page
    assert markupsafe.escape(NASTY) in page  # Jinja2's autoescape
    assert "\\u003ci\\u003ex\\u0026y" in page
    # no external assets
    assert "http://" not in page and "https://" not in page


def test_report_of_a_gallery_has_a_section_per_photo(tmp_path):
    run = tmp_path / "run"
    dirs = {}
    for photo in ("beach", "city"):
        for artist in ("monet", "a&b"):
            write_store(run / photo / artist)
            dirs.setdefault(photo, {})[artist] = run / photo / artist
    write_store(run / "beach" / "lonely", n=2)  # other weights: no comparison for beach
    dirs["beach"]["lonely"] = run / "beach" / "lonely"
    report = write_report(run, dirs)
    page = report.read_text()
    assert report == run / "index.html"
    assert page.count('<section class="photo"') == 2
    assert "<h2>beach</h2>" in page and "<h2>city</h2>" in page
    assert page.count('class="card compare"') == 1  # city only
    assert "a&amp;b" in page and "a&b" not in page.replace("\\u0026", "")
    assert all(t.is_file() for t in local_targets(report, page))
    assert "city/a%26b/frames/f000_cw-100.000.png" in page


def test_report_accepts_job_dirs_and_skips_empty_jobs(tmp_path):
    run = tmp_path / "run"
    write_store(run / "solo")
    (run / "empty").mkdir()
    page = write_report(run, {"": {"solo": run / "solo", "empty": run / "empty"}}).read_text()
    assert page.count('class="card artist"') == 1 and 'class="card compare"' not in page


# --------------------------------------------------------------------------- progress

def test_progress_snapshots_and_gif(run_dir):
    for artist in ARTISTS:
        job = run_dir / artist
        records = records_of(job)
        assert all(not r["file"].startswith("progress") for r in records)
        assert set(records[0]) >= {"index", "file"} and not any("progress" in k for r in records for k in r)
        for record in records:
            steps = sorted(p.name for p in (job / "progress" / f"f{record['index']:03d}").glob("s*.png"))
            assert steps[0] == "s0001.png"
            if record["iterations"] >= PROGRESS_EVERY:  # in-betweens of init: keyframes run fewer
                assert f"s{PROGRESS_EVERY:04d}.png" in steps
            # the last snapshot is the stored frame
            assert np.array_equal(read_png(job / "progress" / f"f{record['index']:03d}" / steps[-1]),
                                  read_png(job / record["file"]))
        with Image.open(job / "progress.gif") as gif:
            assert gif.n_frames > 1
            assert min(gif.size) >= 256  # upscaled like the movie, so the label is legible


def test_progress_every_is_validated():
    from sweep.config import parse_config

    assert parse_config("content: a.png\nstyles: {x: y.png}\n").movie.progress_every == 0
    with pytest.raises(SweepError, match="'movie.progress_every' must be >= 0"):
        parse_config("content: a.png\nstyles: {x: y.png}\nmovie: {progress_every: -1}\n")
