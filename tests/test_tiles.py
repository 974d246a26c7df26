"""Frames beyond the memory budget: the tile layout, the tiled objective against the
untiled one (real weights), the seam measure, the progress bar in tiles, and
`sweep pick --set/--dry-run` and `sweep run --dry-run` naming the tiles."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sweep.config import parse_config
from sweep.errors import SweepError
from sweep.records import Style
from sweep.tiles import TileGrid, seam_ratios, tile_grid

from .conftest import run_cli
from ._tiny_run import tiny_run

GRIDS = [(96, 96, 48, 12, 2), (130, 75, 64, 16, 3), (1748, 2048, 720, 64, 4), (40, 300, 48, 0, 1)]


@pytest.mark.parametrize("height,width,tile,overlap,passes", GRIDS)
def test_cores_cover_every_pixel_once_per_pass_with_the_overlap_as_context(height, width, tile, overlap, passes):
    grid = TileGrid(height, width, tile, overlap, passes)
    th, tw = grid.window_size
    for pass_index in range(passes):
        cover = np.zeros((height, width), dtype=int)
        for w in grid.windows(pass_index):
            assert 0 <= w.top <= height - th and 0 <= w.left <= width - tw
            cover[w.rows[0]:w.rows[1], w.cols[0]:w.cols[1]] += 1
            for start, size, core, length in ((w.top, th, w.rows, height), (w.left, tw, w.cols, width)):
                assert start <= core[0] < core[1] <= start + size
                assert core[0] == 0 or core[0] - start >= overlap
                assert core[1] == length or start + size - core[1] >= overlap
        assert (cover == 1).all()
    assert grid.visit_count == sum(len(grid.windows(p)) for p in range(passes))


def test_passes_move_the_borders():
    grid = TileGrid(1748, 2048, 720, 64, 4)
    borders = [{w.cols[0] for w in grid.windows(p)} - {0} for p in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            assert not borders[a] & borders[b]


def test_a_frame_that_is_one_window_is_described_without_a_grid_or_passes():
    """Every pass of a one-window grid is the same window: "a 1x1 grid, 4 shifted
    pass(es)" would promise seams moved that do not exist."""
    one = TileGrid(171, 200, 200, 64, 4)
    assert one.grid_shape() == (1, 1) and all(len(one.windows(p)) == 1 for p in range(4))
    assert one.describe("block5_conv1") == ("tiles: one 200x171 px window, the whole frame (no shifted passes), "
                                            "64 px overlap for a painting larger than the window "
                                            "(block5_conv1 needs 58: exact)")
    several = TileGrid(1748, 2048, 720, 64, 4).describe("block5_conv1")
    assert "a 4x3 grid, 4 shifted pass(es)" in several and "one " not in several


def _config(**runtime):
    return parse_config(f"content: sample:grace_hopper\nstyles: {{a: sample:rings}}\n"
                        f"optimizer: {{iterations: 20}}\nruntime: {runtime!r}\n".replace("'", ""))


def test_tiles_only_when_the_frame_does_not_fit_and_then_within_the_budget():
    from sweep.tiles import tiled_peak_bytes

    budget = 2000 * 2**20
    assert tile_grid(_config(), 256, 256, (256, 256), budget) is None
    grid = tile_grid(_config(), 2048, 1536, (2048, 2048), budget)
    assert grid is not None and grid.tile < 2048 and grid.tile % 16 == 0
    assert tiled_peak_bytes(grid, _config(), (2048, 2048)) <= budget
    bigger = tile_grid(_config(), 2048, 1536, (2048, 2048), 2 * budget)
    assert bigger.tile > grid.tile
    forced = tile_grid(_config(tile_size=160), 256, 256, (256, 256), budget)
    assert forced.tile == 160 and forced.overlap == 64
    with pytest.raises(SweepError, match="raise runtime.memory_budget_mb, or lower image.max_size or image.style"):
        tile_grid(_config(), 4096, 4096, (4096, 4096), 200 * 2**20)


def test_the_paintings_pass_counts_in_the_budget():
    """A painting far larger than the frame (image.style_scale up to 4) runs through
    VGG16 once per job: a frame that fits alone is tiled when its painting's pass would
    not fit beside it (the tiled targets take the painting window by window)."""
    from sweep.costs import forward_bytes

    budget = 2000 * 2**20
    assert tile_grid(_config(), 256, 256, (256, 256), budget) is None
    assert forward_bytes(4096, 4096, _config()) > budget
    assert tile_grid(_config(), 1024, 1024, (4096, 4096), budget).tile < 1024
    # a frame smaller than any tile, or one that a tile_size covers (a coarse scale's),
    # is one window, which takes the painting window by window
    for config in (_config(), _config(tile_size=512)):
        one = tile_grid(config, 109, 128, (512, 600), 300 * 2**20)
        assert one.window_size == (109, 128) and one.visit_count == one.passes


def test_an_explicit_tile_size_is_refused_when_it_does_not_fit_the_budget():
    """The plan never promises a tile (or a whole frame, when runtime.tile_size covers
    it) beyond runtime.memory_budget_mb: the run would be killed for memory instead."""
    from sweep.tiles import tiled_peak_bytes

    budget = 2000 * 2**20
    automatic = tile_grid(_config(), 2048, 1536, (2048, 2048), budget).tile   # the largest that fits
    fits = tile_grid(_config(tile_size=automatic), 2048, 1536, (2048, 2048), budget)
    assert fits.tile == automatic and tiled_peak_bytes(fits, _config(), (2048, 2048)) <= budget
    with pytest.raises(SweepError, match="does not fit the 2000 MB memory budget even in 1024 px tiles.*"
                                         "lower runtime.tile_size"):
        tile_grid(_config(tile_size=1024), 2048, 1536, (2048, 2048), budget)
    with pytest.raises(SweepError, match="1536x2048 frame does not fit the 2000 MB memory budget even as one tile"):
        tile_grid(_config(tile_size=4096), 2048, 1536, (2048, 2048), budget)
    assert tile_grid(_config(tile_size=4096), 256, 256, (256, 256), budget) is None
    with pytest.raises(SweepError, match="even in 160 px tiles.*needs about .* MB; raise runtime.memory_budget_mb"):
        tile_grid(_config(tile_size=160), 2048, 1536, (2048, 2048), 150 * 2**20)   # 160: the smallest it takes


@pytest.mark.parametrize("runtime,message", [({"tile_size": 159}, "between 160"), ({"tile_overlap": -1}, ">= 0"),
                                             ({"tile_passes": 0}, "at least 1")])
def test_tile_settings_are_checked(runtime, message):
    with pytest.raises(SweepError, match=message):
        _config(**runtime)


@pytest.mark.parametrize("overlap", [0, 12, 16, 32, 64])
def test_the_smallest_tile_size_cuts_every_frame_into_cores(overlap):
    """At the least runtime.tile_size the config takes, the window trimmed to the grid
    still has a core: every pass's cores cover each axis once, in order (a core of 0 px
    made range() fail at 2 x overlap + 16)."""
    from sweep.limits import smallest_tile

    tile = _config(tile_size=smallest_tile(overlap), tile_overlap=overlap).runtime.tile_size   # the config takes it
    for length in range(tile + 1, 1100, 13):
        grid = TileGrid(length, length, tile, overlap, 3)
        for pass_index in range(3):
            spans = grid.axis(length, pass_index)
            assert [core for _, core, _ in spans][0] == 0 and spans[-1][2] == length
            assert all(stop == next_core for (_, _, stop), (_, next_core, _) in zip(spans, spans[1:]))
            assert all(0 <= start <= core < stop <= start + grid.window_side(length) for start, core, stop in spans)


def test_seam_ratio_sees_a_seam_and_not_a_smooth_image():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 40, (64, 64, 3)) + np.linspace(0, 150, 64)[None, :, None]
    assert max(seam_ratios(texture.astype(np.uint8), [32], [32])) < 1.5
    seamed = texture.copy()
    seamed[:, 32:] += 60
    assert seam_ratios(seamed.astype(np.uint8), [], [32])[0] > 1.5


def test_progress_bar_counts_tiles():
    from sweep.progress import ProgressBar
    from sweep.records import FrameResult, StepRecord

    bar = ProgressBar(2, 10, enabled=True)  # a disabled tqdm counts nothing
    for done in range(1, 4):
        bar.on_tile("job", done, 5)
    assert (bar.bar.total, bar.bar.n) == (10, 3) and "tiles" in bar.bar.bar_format
    bar.on_step(StepRecord("job", 1, 10, [0], np.ones(1), *[np.zeros(1)] * 4, np.ones(1, dtype=bool), 0.0,
                           lambda: None))
    assert bar.bar.n == 3  # an iteration of a tiled frame is counted by its tiles
    bar.on_frame("job", FrameResult(0, 1.0, None, 0, 0, 0, 10))
    assert bar.bar.n == 5  # the frame's remaining tiles are skipped
    for done in range(1, 8):  # more evaluations than planned never overrun the frame's share
        bar.on_tile("job", min(done, 5), 5)
    assert bar.bar.n == 10
    bar.close()


def test_tiled_frame_matches_the_untiled_frame(real_weights):
    """96 px, tiles of 48 with 12 px of context, from the upsampled half-size frame as
    `pick --size` starts. The layers here are shallow (zero padding reaches 6 px into
    block2_conv2), so the overlap covers their context and the tiled objective is the
    untiled one: value and gradient agree to float rounding, and so do the frames."""
    from keras import ops

    from sweep.quiet import import_keras

    import_keras()
    from sweep.engine import SweepEngine, build_engine
    from sweep.images import load_image, resize_max_side, resize_to

    config = parse_config("content: sample:grace_hopper\nstyles: {a: sample:brushstrokes}\n"
                          "image: {max_size: 96}\noptimizer: {iterations: 12}\n"
                          "model: {content_layers: [block2_conv2], style_layers: [block1_conv1, block2_conv1]}\n"
                          "runtime: {tile_overlap: 12, tile_passes: 2}\n")
    photo = resize_max_side(load_image("sample:grace_hopper"), 96)
    painting = resize_max_side(load_image("sample:brushstrokes"), 96)
    whole_engine = build_engine(config, real_weights)
    half = tuple(s // 2 for s in photo.shape[:2])
    preview = whole_engine.optimise("preview", resize_to(photo, half), resize_to(painting, half), [(0, 1.0)], 1)
    start = {0: resize_to(preview[0].image, photo.shape[:2])}
    whole = whole_engine.optimise("whole", photo, painting, [(0, 1.0)], 1, start_images=start)[0]
    tiled_config = dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, tile_size=48))
    tiled_engine = SweepEngine(tiled_config, whole_engine.extractor)
    tiled = tiled_engine.optimise("tiled", photo, painting, [(0, 1.0)], 1, start_images=start)[0]
    assert tiled.iterations > 0

    # The two objectives at the start image: same losses, same gradient.
    x = start[0][None].astype(np.float32) / 255
    untiled = whole_engine._evaluator(np.ones(1, dtype=np.float32), whole_engine._stages(photo, Style.of(painting))[-1][3])(x)
    by_tiles = tiled_engine._evaluator(np.ones(1, dtype=np.float32), tiled_engine._stages(photo, Style.of(painting))[-1][3])(x)
    for a, b in zip(untiled[:4], by_tiles[:4]):
        assert float(np.asarray(b)[0]) == pytest.approx(float(np.asarray(a)[0]), rel=1e-4)
    gradients = [np.asarray(ops.convert_to_numpy(g)) for g in (untiled[4], by_tiles[4])]
    assert np.linalg.norm(gradients[1] - gradients[0]) < 1e-4 * np.linalg.norm(gradients[0])

    assert abs(tiled.content_loss / whole.content_loss - 1) < 0.05
    assert abs(tiled.style_loss / whole.style_loss - 1) < 0.05
    rows, cols = TileGrid(photo.shape[0], photo.shape[1], 48, 12, 2).borders()
    tiled_seams = seam_ratios(tiled.image, rows, cols)
    whole_seams = seam_ratios(whole.image, rows, cols)
    assert len(tiled_seams) >= 8 and np.mean(tiled_seams) <= 1.5
    # A border may lie on an edge of the picture itself (rows 12 and 84 of this photo
    # measure 3-4 in the photo): there the untiled frame measures the same.
    for tiled_ratio, whole_ratio in zip(tiled_seams, whole_seams):
        assert tiled_ratio <= 1.5 or tiled_ratio <= 1.05 * whole_ratio


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_pick_dry_run_names_the_tiles_and_writes_nothing(run_dir):
    job = run_dir / "brushstrokes"
    before = sorted(p.name for p in job.iterdir())
    result = run_cli("pick", job, "--suggested", "--size", "2048", "--set", "runtime.memory_budget_mb=2000",
                     "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would re-render frame" in result.stdout
    assert "tiles: " in result.stdout and "estimated peak memory" in result.stdout
    assert "estimated time" in result.stdout
    assert sorted(p.name for p in job.iterdir()) == before
    copy = run_cli("pick", job, "--suggested", "--dry-run")
    assert copy.returncode == 0 and "would copy" in copy.stdout


@pytest.mark.parametrize("args,message", [(["--set", "runtime.memory_budget_mb=400"], "add --size"),
                                          (["--size", "96", "--set", "runtime.memry=3"], "unknown config key"),
                                          (["--size", "96", "--set", "runtime.tile_passes=0"], "at least 1"),
                                          (["--size", "96", "--set", "content=sample:rings"], "keeps the run's photo"),
                                          (["--size", "96", "--set", "content"], "--set expects KEY=VALUE"),
                                          (["--size", "96", "--set", "styles.rings.painting=sample:rings"],
                                           "keeps the run's photo and paintings")])
def test_pick_set_errors(run_dir, args, message):
    result = run_cli("pick", run_dir / "brushstrokes", "--suggested", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr


def test_run_dry_run_plans_4096_px_frames_in_tiles(tmp_path):
    config = tmp_path / "big.yaml"
    config.write_text("content: sample:grace_hopper\nstyles: {a: sample:rings}\n"
                      "sweep: {content_weight: {steps: 2}}\n")
    result = run_cli("run", config, "--dry-run", "--set", "image.max_size=4096",
                     "--set", "runtime.memory_budget_mb=8000")
    assert result.returncode == 0, result.stderr
    assert "x4096 frames" in result.stdout and "tiles: " in result.stdout and "exact" in result.stdout


@pytest.mark.parametrize("height,width,tile,overlap,passes", GRIDS)
def test_window_starts_lie_on_the_pooling_grid(height, width, tile, overlap, passes):
    grid = TileGrid(height, width, tile, overlap, passes)
    for window in grid.visits():
        assert window.top % grid.align == 0 and window.left % grid.align == 0


def test_default_layers_are_exact_with_the_default_overlap(real_weights):
    """The default layers reach 58 px into a window (block5_conv1); the default 64 px
    overlap covers that, so the tiled objective of a 257x300 frame in 176 px tiles is
    the untiled one, at a random image."""
    from keras import ops

    from sweep.quiet import import_keras

    import_keras()
    from sweep.engine import SweepEngine, build_engine
    from sweep.images import load_image, resize_max_side

    config = parse_config("content: sample:grace_hopper\nstyles: {a: sample:brushstrokes}\nimage: {max_size: 300}\n")
    photo = resize_max_side(load_image("sample:grace_hopper"), 300)
    painting = resize_max_side(load_image("sample:brushstrokes"), 300)
    whole = build_engine(config, real_weights)
    tiled = SweepEngine(dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, tile_size=176)),
                        whole.extractor)
    x = ops.convert_to_tensor(np.random.default_rng(0).uniform(0, 1, (1, *photo.shape)).astype(np.float32))
    results = [engine._evaluator(np.ones(1, dtype=np.float32), engine._stages(photo, Style.of(painting))[-1][3])(x)
               for engine in (whole, tiled)]
    assert isinstance(tiled._stages(photo, Style.of(painting))[-1][3].grid, TileGrid)
    for a, b in zip(results[0][:4], results[1][:4]):
        assert float(np.asarray(b)[0]) == pytest.approx(float(np.asarray(a)[0]), rel=1e-4)
    gradients = [np.asarray(ops.convert_to_numpy(r[4])) for r in results]
    assert np.linalg.norm(gradients[1] - gradients[0]) < 1e-4 * np.linalg.norm(gradients[0])


def test_a_blend_under_every_colour_option_is_exact_in_tiles(real_weights):
    """A 70/30 blend of two paintings of different sizes under colors: match and photo,
    of the photo and of a blank one: the tiled objective (shallow layers, 12 px overlap)
    is the untiled one, its gradient through the luminance projection too."""
    from keras import ops

    from sweep.quiet import import_keras

    import_keras()
    from sweep.engine import SweepEngine, build_engine
    from sweep.images import load_image, resize_max_side

    config = parse_config("content: sample:grace_hopper\nstyles: {a: sample:brushstrokes}\nimage: {max_size: 96}\n"
                          "model: {content_layers: [block2_conv2], style_layers: [block1_conv1, block2_conv1]}\n"
                          "runtime: {tile_overlap: 12}\n")
    photo = resize_max_side(load_image("sample:grace_hopper"), 96)
    paintings = [resize_max_side(load_image("sample:brushstrokes"), 96), resize_max_side(load_image("sample:rings"), 80)]
    whole = build_engine(config, real_weights)
    tiled = SweepEngine(dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, tile_size=48)),
                        whole.extractor)
    x = ops.convert_to_tensor(np.random.default_rng(1).uniform(0, 1, (1, *photo.shape)).astype(np.float32))
    blank = np.full_like(photo, 128)   # no texture: the TV divisor comes from the paintings (losses.tv_norm)
    for colors, content in [("match", photo), ("match", blank), ("photo", photo), ("photo", blank)]:
        style = Style(paintings=paintings, weights=[0.7, 0.3], colors=colors)
        results = [engine._evaluator(np.ones(1, dtype=np.float32), engine._stages(content, style)[-1][3])(x)
                   for engine in (whole, tiled)]
        for a, b in zip(results[0][:4], results[1][:4]):
            assert float(np.asarray(b)[0]) == pytest.approx(float(np.asarray(a)[0]), rel=1e-4)
        gradients = [np.asarray(ops.convert_to_numpy(r[4])) for r in results]
        assert np.linalg.norm(gradients[1] - gradients[0]) < 1e-4 * np.linalg.norm(gradients[0])

