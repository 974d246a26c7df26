"""The report in a real browser: Debian's Chromium driven by Playwright, from file://.

Needs `apt-get install -y chromium` and `pip install playwright` (no `playwright
install`: the system Chromium is used). The screenshot lands in
test-artifacts/report.png.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sweep.render.report import write_report

from ._tiny_run import ARTISTS, FRAMES, NASTY, tiny_run

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SWEEP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def open_report(browser, report: Path, viewport: dict):
    """A page showing `report` from file://; its `errors` collects the script's exceptions."""
    page = browser.new_page(viewport=viewport)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    page.errors = errors
    return page


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    return open_report(browser, tiny_run(tmp_path_factory) / "index.html", {"width": 1280, "height": 900})


def write_tall_job(job: Path, frames: int = 4, size: tuple[int, int] = (64, 16)) -> Path:
    """A stored job of `frames` grey frames of `size` (height, width) px, without optimising anything."""
    (job / "frames").mkdir(parents=True)
    records = []
    for i, weight in enumerate(np.geomspace(100, 0.1, frames)):
        name = f"frames/f{i:03d}_cw-{weight:.3f}.png"
        Image.fromarray(np.full((*size, 3), 40 + 50 * i, np.uint8)).save(job / name)
        records.append({"index": i, "content_weight": float(weight), "content_loss": 0.1 * i,
                        "style_loss": 1 - 0.3 * i, "file": name})
    (job / "frames.json").write_text(json.dumps(records))
    return job


def set_slider(slider, value: int) -> None:
    slider.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
                    value)


def test_artist_slider_changes_frame_weight_and_losses(page):
    viewer = page.locator(".viewer").first
    image, weight = viewer.locator("img.frame"), viewer.locator(".v-weight")
    content, style = viewer.locator(".v-content"), viewer.locator(".v-style")
    set_slider(viewer.locator("input.scrub"), 0)
    first = image.get_attribute("src"), weight.inner_text(), content.inner_text(), style.inner_text()
    assert first[0].endswith("f000_cw-100.000.png") and first[1] == "100"
    set_slider(viewer.locator("input.scrub"), FRAMES - 1)
    last = image.get_attribute("src"), weight.inner_text(), content.inner_text(), style.inner_text()
    assert last[0].endswith(f"f{FRAMES - 1:03d}_cw-0.100.png") and last[1] == "0.1"
    assert last[2] != first[2] and last[3] != first[3]
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
    assert not page.errors


def test_arrow_keys_step_the_slider_used_last(page):
    viewer = page.locator(".viewer").first
    slider, weight = viewer.locator("input.scrub"), viewer.locator(".v-weight")
    set_slider(slider, 1)
    before = viewer.locator("img.frame").get_attribute("src"), weight.inner_text()
    page.locator("h1").click()  # focus is on the page, not on the slider
    page.keyboard.press("ArrowRight")
    after = viewer.locator("img.frame").get_attribute("src"), weight.inner_text()
    assert slider.input_value() == "2" and after != before and after[1] == "1"
    page.keyboard.press("ArrowLeft")
    assert slider.input_value() == "1" and weight.inner_text() == before[1]
    slider.focus()  # a focused slider steps natively
    page.keyboard.press("ArrowRight")
    assert slider.input_value() == "2" and weight.inner_text() == "1"
    assert not page.errors


def test_comparison_slider_moves_every_tile(page):
    box = page.locator("[data-compare]")
    assert box.count() == 1
    tiles = box.locator("img[data-job]")
    assert tiles.count() == len(ARTISTS)
    set_slider(box.locator("input.scrub"), 0)
    before = [tiles.nth(k).get_attribute("src") for k in range(tiles.count())]
    set_slider(box.locator("input.scrub"), FRAMES - 1)
    after = [tiles.nth(k).get_attribute("src") for k in range(tiles.count())]
    assert all(a != b for a, b in zip(before, after))
    assert all(src.endswith(f"f{FRAMES - 1:03d}_cw-0.100.png") for src in after)
    assert box.locator(".v-weight").inner_text() == "0.1"
    assert not page.errors


def test_names_render_escaped_and_screenshot(page):
    headings = page.locator("article.artist h3").all_inner_texts()
    assert headings == list(ARTISTS)  # the text shows the name as written, markup and all
    assert page.locator("article.artist h3 i").count() == 0  # and no element was created from it
    set_slider(page.locator("[data-compare] input.scrub"), 2)
    page.wait_for_load_state("load")
    broken = page.evaluate("""() => Array.from(document.images)
        .filter((img) => !img.closest('details') && !(img.complete && img.naturalWidth > 0))
        .map((img) => img.getAttribute('src'))""")
    assert broken == []  # every frame, sheet and GIF loads from file://, odd names included
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "report.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    assert NASTY in page.locator("[data-compare] figcaption a").all_inner_texts()


def test_a_tall_frame_and_its_slider_fit_the_window_together(browser, tmp_path):
    """16x64 px frames (1:4) at the column's full width would be over 2000 px tall, the slider far below them."""
    run = tmp_path / "tall"
    jobs = {name: write_tall_job(run / name) for name in ("one", "two")}
    report = write_report(run, {"": jobs})
    height = 800
    page = open_report(browser, report, {"width": 1280, "height": height})
    for box, image_selector in ((page.locator(".viewer").first, "img.frame"),
                                (page.locator("[data-compare]"), "img[data-job]")):
        image, slider = box.locator(image_selector).first, box.locator("input.scrub")
        image.evaluate("(img) => img.scrollIntoView({block: 'start'})")
        shown, bar = image.bounding_box(), slider.bounding_box()
        assert shown["y"] >= -1 and shown["y"] + shown["height"] <= bar["y"]
        assert bar["y"] + bar["height"] <= height  # the frame and its slider on one screen
        assert shown["height"] == pytest.approx(0.75 * height, abs=1)  # still scaled up as far as it may go
        fitted = image.evaluate("(img) => getComputedStyle(img).objectFit")
        assert fitted == "contain"  # letterboxed with its shape kept, not stretched to the box
    assert not page.errors
    page.close()
