"""Artist controls (issue 16, parts 1-3): the artist mapping, `colors: photo | match`,
and blends of several paintings. The quality properties run real sweeps with the real
VGG16 weights on tiny images; the schema and colour maths are unit tests."""
from __future__ import annotations

import html
import json

import numpy as np
import pytest
import yaml

from sweep.colors import color_statistics, effective_colors, match_colors, to_ycbcr, with_photo_chroma
from sweep.artist import Artist
from sweep.config import parse_config
from sweep.errors import SweepError
from sweep.images import load_image, resize_max_side, resize_to
from sweep.identity import FRAME_SECTIONS, config_hash

from .test_losses import as_np, finite_difference, gradient

A, B = "sample:brushstrokes", "sample:stained_glass"


# --------------------------------------------------------------------------- the schema

def test_every_artist_form_resolves_to_the_full_mapping(tmp_path):
    config = parse_config(f"""
content: photo.jpg
styles:
  plain: starry.jpg
  photo_colours: {{painting: starry.jpg, colors: photo}}
  blend: {{paintings: [starry.jpg, {A}], weights: [3, 1], colors: match}}
  equal: {{paintings: [starry.jpg, {A}]}}
""", base_dir=tmp_path)
    starry = str((tmp_path / "starry.jpg").resolve())
    assert config.styles == {
        "plain": Artist(paintings=[starry], weights=[1.0], colors="style"),
        "photo_colours": Artist(paintings=[starry], weights=[1.0], colors="photo"),
        "blend": Artist(paintings=[starry, A], weights=[0.75, 0.25], colors="match"),
        "equal": Artist(paintings=[starry, A], weights=[0.5, 0.5], colors="style"),
    }
    saved = yaml.safe_load(config.to_yaml())["styles"]
    assert saved["blend"] == {"paintings": [starry, A], "weights": [0.75, 0.25], "colors": "match"}
    assert parse_config(config.to_yaml()) == config  # what a run saves loads back the same


def test_set_reaches_into_an_artist_even_a_plain_one(tmp_path):
    config = parse_config("content: p.jpg\nstyles: {a: x.jpg}\n", base_dir=tmp_path,
                          overrides=["styles.a.colors=photo"])
    assert config.styles["a"] == Artist(paintings=[str(tmp_path / "x.jpg")], weights=[1.0], colors="photo")
    blend = parse_config("content: p.jpg\nstyles: {a: x.jpg}\n", base_dir=tmp_path,
                         overrides=["styles.a.paintings=[x.jpg, y.jpg]", "styles.a.weights=[1, 0]"])
    assert blend.styles["a"].paintings == [str(tmp_path / "x.jpg"), str(tmp_path / "y.jpg")]
    assert blend.styles["a"].weights == [1.0, 0.0]


@pytest.mark.parametrize("artist, message", [
    ("{painting: x.jpg, colours: photo}", "unknown config key 'styles.a.colours'; did you mean 'colors'?"),
    ("{paintings: [x.jpg], weight: [1]}", "did you mean 'weights'?"),
    ("{painting: x.jpg, paintings: [y.jpg]}", "both 'painting' and 'paintings'"),
    ("{colors: photo}", "names no painting"),
    ("{paintings: []}", "'styles.a.paintings' is empty"),
    ("{paintings: [x.jpg, y.jpg], weights: [1]}", "1 value(s) for 2 painting(s)"),
    ("{paintings: [x.jpg, y.jpg], weights: [0, 0]}", "positive sum"),
    ("{painting: x.jpg, colors: grey}", "'styles.a.colors' must be one of style, photo, match; got 'grey'"),
    ("[x.jpg]", "must be a painting's path or a mapping"),
])
def test_bad_artists_are_refused_with_the_key_and_what_is_allowed(artist, message):
    with pytest.raises(SweepError) as error:
        parse_config(f"content: p.jpg\nstyles:\n  a: {artist}\n")
    assert message in str(error.value)


def test_the_config_hash_covers_every_artist_option():
    base = "content: p.jpg\nstyles:\n  a: {paintings: [x.jpg, y.jpg], weights: [1, 1], colors: style}\n"
    variants = [base.replace("colors: style", "colors: photo"), base.replace("[1, 1]", "[2, 1]"),
                base.replace("y.jpg", "z.jpg")]
    hashes = {config_hash(parse_config(text)) for text in [base, *variants]}
    assert len(hashes) == 4
    # The same blend written with other but proportional weights is the same artist.
    assert config_hash(parse_config(base.replace("[1, 1]", "[3, 3]"))) == config_hash(parse_config(base))


# --------------------------------------------------------------------------- colour maths

def _photo_and_painting(side=64):
    photo = resize_max_side(load_image("sample:grace_hopper"), side)
    painting = resize_max_side(load_image(A), side)
    return photo, painting


def test_match_gives_the_painting_the_photos_colour_mean_and_covariance():
    photo, painting = _photo_and_painting()
    matched = match_colors(painting / 255.0, photo / 255.0)
    mean, cov = color_statistics(matched)
    photo_mean, photo_cov = color_statistics(photo / 255.0)
    before_mean, before_cov = color_statistics(painting / 255.0)
    assert np.abs(mean - photo_mean).max() <= 0.01 * np.abs(photo_mean).max()
    assert np.abs(cov - photo_cov).max() <= 0.01 * np.abs(photo_cov).max()
    # ... which the painting did not have before (so the check is not vacuous).
    assert np.abs(before_cov - photo_cov).max() > 0.1 * np.abs(photo_cov).max()


def test_photo_chroma_keeps_the_frames_luminance_and_the_photos_chroma():
    photo, painting = _photo_and_painting()
    frame = resize_to(painting, photo.shape[:2])  # a frame with the painting's colours
    out = with_photo_chroma(frame[None], photo)[0]
    ycc_out, ycc_photo, ycc_frame = (to_ycbcr(x / 255.0) * 255 for x in (out, photo, frame))
    assert np.abs(ycc_out[..., 1:] - ycc_photo[..., 1:]).mean() <= 2.0
    assert np.abs(ycc_out[..., 0] - ycc_frame[..., 0]).mean() <= 2.0


def test_blend_style_loss_and_its_gradient():
    """The blend's loss is the shares' weighted sum of each painting's normalised loss,
    and its hand-written gradient is the true one (finite differences)."""
    from keras import ops

    from sweep.losses import gram, style_loss

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    grams = np.concatenate([as_np(gram(ops.convert_to_tensor(rng.normal(size=(1, 5, 4, 3)).astype(np.float32))))
                            for _ in range(2)])
    norms = np.sum(grams ** 2, axis=(1, 2)).astype(np.float32)
    shares = np.array([0.7, 0.3], np.float32)

    def blend(v):
        return style_loss(v, ops.convert_to_tensor(grams), ops.convert_to_tensor(norms), ops.convert_to_tensor(shares))

    def single(v, k):
        return style_loss(v, ops.convert_to_tensor(grams[k:k + 1]), float(norms[k]))

    x_tensor = ops.convert_to_tensor(x)
    expected = 0.7 * as_np(single(x_tensor, 0)) + 0.3 * as_np(single(x_tensor, 1))
    np.testing.assert_allclose(as_np(blend(x_tensor)), expected, rtol=1e-5)
    upstream = np.array([1.0, 0.5], np.float32)
    numeric = finite_difference(blend, x, upstream)
    np.testing.assert_allclose(gradient(blend, x, upstream), numeric, atol=2e-3 * np.abs(numeric).max())


# --------------------------------------------------------------------------- real sweeps

SIZE = 48
WEIGHTS = [100.0, 1.0, 0.1]


@pytest.fixture(scope="module")
def artists_run(tmp_path_factory, real_weights):
    """One run, five artists on the sample photo: each painting alone, a 50/50 blend,
    a [1, 0] blend, and the first painting with the photo's colours."""
    import sweep

    root = tmp_path_factory.mktemp("artists")
    (root / "artists.yaml").write_text(yaml.safe_dump({
        "content": "sample:grace_hopper",
        "styles": {"a": A, "b": B,
                   "half": {"paintings": [A, B]},
                   "a_only": {"paintings": [A, B], "weights": [1, 0]},
                   "a_photo": {"painting": A, "colors": "photo"},
                   "a_match": {"painting": A, "colors": "match"}},
        "sweep": {"content_weight": {"start": WEIGHTS[0], "stop": WEIGHTS[-1], "steps": len(WEIGHTS)}},
        "image": {"max_size": SIZE},
        "optimizer": {"iterations": 40},
        "movie": {"formats": ["gif"], "fps": 4, "hold": 0.2},
        "runtime": {"chunk_size": len(WEIGHTS), "progress": False},
    }))
    result = sweep.run(root / "artists.yaml", root / "out", progress=False, log=lambda message: None)
    assert not result.failed
    return result


def _frames(run, artist):
    from sweep.images import read_png

    records = json.loads((run.out_dir / artist / "frames.json").read_text())
    return records, [read_png(run.out_dir / artist / r["file"]) for r in records]


@pytest.mark.slow
def test_photo_colours_keep_every_frames_chroma_within_2_levels(artists_run):
    photo = resize_max_side(load_image("sample:grace_hopper"), SIZE)
    photo_chroma = to_ycbcr(photo / 255.0)[..., 1:] * 255
    records, frames = _frames(artists_run, "a_photo")
    assert len(frames) == len(WEIGHTS)
    for frame in frames:
        assert np.abs(to_ycbcr(frame / 255.0)[..., 1:] * 255 - photo_chroma).mean() <= 2.0
    # ... while its luminance did take the style (it is not just the photo).
    last_y = to_ycbcr(frames[-1] / 255.0)[..., 0] * 255
    assert np.abs(last_y - to_ycbcr(photo / 255.0)[..., 0] * 255).mean() > 5.0
    # The same painting with its own colours moves the chroma far more.
    _, styled = _frames(artists_run, "a")
    assert np.abs(to_ycbcr(styled[-1] / 255.0)[..., 1:] * 255 - photo_chroma).mean() > 4.0


@pytest.mark.slow
def test_match_targets_are_the_grams_of_the_colour_matched_painting(artists_run):
    """`colors: match` computes the Gram targets from the painting recoloured to the
    photo's mean and covariance: the engine's targets equal those of that painting."""
    from keras import ops

    from sweep.engine import build_engine
    from sweep.records import Style
    from sweep.weights import resolve_weights

    plan = artists_run.plan
    job = next(j for j in plan.jobs if j.artist == "a_match")
    engine = build_engine(plan.config, resolve_weights("imagenet"))
    ours = engine.style_targets(job.photo_image, job.style.paintings, job.style)
    matched = match_colors(job.style.paintings[0] / 255.0, job.photo_image / 255.0)
    expected = engine.targets(ops.convert_to_tensor(job.photo_image[None] / np.float32(255)),
                              ops.convert_to_tensor(matched[None]))
    plain = engine.style_targets(job.photo_image, job.style.paintings, Style(job.style.paintings, [1.0]))
    for got, want, unmatched in zip(ours.grams, expected.grams, plain.grams):
        got, want, unmatched = (np.asarray(ops.convert_to_numpy(g)) for g in (got, want, unmatched))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
        assert np.abs(got - unmatched).max() > 0.01 * np.abs(unmatched).max()


@pytest.mark.slow
def test_blend_with_weights_1_0_equals_the_single_painting_run(artists_run):
    records_a, frames_a = _frames(artists_run, "a")
    records_blend, frames_blend = _frames(artists_run, "a_only")
    for one, other in zip(frames_a, frames_blend):
        assert np.abs(one.astype(int) - other.astype(int)).max() <= 1
    assert records_blend[0]["artist"]["weights"] == [1.0, 0.0]


@pytest.mark.slow
def test_a_half_half_blend_is_closer_to_each_painting_than_the_other_paintings_run(artists_run):
    """At the last frame, the 50/50 blend's style loss to A is below B's run's style
    loss to A, and the same the other way round."""
    from sweep.engine import build_engine
    from sweep.weights import resolve_weights

    plan = artists_run.plan
    job = next(j for j in plan.jobs if j.artist == "half")
    engine = build_engine(plan.config, resolve_weights("imagenet"))
    last = {name: _frames(artists_run, name)[1][-1] for name in ("a", "b", "half")}
    paintings = dict(zip((A, B), job.style.paintings))

    def style_loss_to(painting, frame):
        return engine.score(frame[None], job.photo_image, paintings[painting], [WEIGHTS[-1]])["style"][0]

    assert style_loss_to(A, last["half"]) < style_loss_to(A, last["b"])
    assert style_loss_to(B, last["half"]) < style_loss_to(B, last["a"])
    # The blend is a compromise: each single run is closer to its own painting.
    assert style_loss_to(A, last["a"]) < style_loss_to(A, last["half"])


@pytest.mark.slow
def test_frames_json_sheet_and_report_name_each_artists_paintings_weights_and_colours(artists_run):
    out = artists_run.out_dir
    records, _ = _frames(artists_run, "half")
    assert all(r["artist"] == {"name": "half", "paintings": [A, B], "weights": [0.5, 0.5], "colors": "style"}
               for r in records)
    assert _frames(artists_run, "a_photo")[0][0]["artist"]["colors"] == "photo"
    report = html.unescape((out / "index.html").read_text())
    assert "sample:brushstrokes 50% + sample:stained_glass 50%, the painting's colours" in report
    assert "sample:brushstrokes, the photo's colours" in report
    from sweep.render.artist_summary import artist_summary
    assert artist_summary(records) == "sample:brushstrokes 50% + sample:stained_glass 50%, the painting's colours"


@pytest.mark.slow
def test_resume_finishes_a_blend_and_refuses_a_changed_artist(artists_run, tmp_path):
    import shutil

    import sweep

    out = tmp_path / "out"  # a copy: the other tests keep the fixture's frames
    shutil.copytree(artists_run.out_dir, out)
    config = artists_run.out_dir.parent / "artists.yaml"
    records = json.loads((out / "half" / "frames.json").read_text())
    # the in-between: under spacing: even a lost keyframe is copied back from JOB/.keyframes
    (out / "half" / records[1]["file"]).unlink()
    resumed = sweep.run(config, out, progress=False, log=lambda message: None)
    assert (resumed.optimised, resumed.failed) == (1, [])
    records_after = json.loads((out / "half" / "frames.json").read_text())
    assert len(records_after) == len(WEIGHTS) and records_after[1]["artist"]["paintings"] == [A, B]
    with pytest.raises(SweepError, match="different config"):
        sweep.run(config, out, overrides=["styles.half.colors=match"], progress=False, log=lambda message: None)


def test_a_plain_artist_hashes_as_before_artists_were_mappings():
    """Run directories made when an artist was a bare path keep resuming: one painting in
    its own colours hashes as that path, however it is spelt."""
    plain = parse_config("content: p.jpg\nstyles: {a: b.jpg}\n", base_dir="/")
    spelt_out = parse_config("content: p.jpg\nstyles: {a: {painting: b.jpg, colors: style}}\n", base_dir="/")
    recoloured = parse_config("content: p.jpg\nstyles: {a: {painting: b.jpg, colors: photo}}\n", base_dir="/")
    assert config_hash(plain) == config_hash(spelt_out) != config_hash(recoloured)
    before = {key: value for key, value in plain.to_dict().items() if key in FRAME_SECTIONS}
    before["styles"] = {"a": "/b.jpg"}
    import hashlib
    assert config_hash(plain) == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()


def test_match_on_a_photo_of_one_chroma_is_photo():
    photo, _ = _photo_and_painting()
    grey = np.repeat(to_ycbcr(photo / 255.0)[..., :1], 3, axis=-1)   # Y in every channel: grey
    toned = grey * 0.8 + np.array([0.12, 0.08, 0.0])                 # one warm tone everywhere
    assert effective_colors("match", grey) == "photo"
    assert np.abs(to_ycbcr(toned)[..., 1:] - 0.5).min() * 255 > 5 and effective_colors("match", toned) == "photo"
    assert effective_colors("match", photo / 255.0) == "match"
    assert effective_colors("style", grey) == "style"


@pytest.mark.slow
def test_match_keeps_a_grey_photos_frames_grey(real_weights):
    """Matched to a grey photo, the painting is grey, but the optimisation was free to
    draw colour where the photo has none: specks of up to 155 levels of chroma along the
    edges. Its frames are now as grey as under `photo`."""
    from sweep.engine import build_engine
    from sweep.records import Style

    photo, painting = _photo_and_painting(48)
    grey = np.repeat(to_ycbcr(photo / 255.0)[..., :1] * 255, 3, axis=-1).round().astype(np.uint8)
    config = parse_config(f"content: x.png\nstyles: {{a: {A}}}\noptimizer: {{iterations: 30}}\n")
    engine = build_engine(config, real_weights)
    frame = engine.optimise("grey", grey, Style([painting], [1.0], colors="match"), [(0, 0.01)], 1)[0].image
    chroma = to_ycbcr(frame / 255.0)[..., 1:] * 255 - 127.5
    assert np.abs(chroma).max() <= 1.0
    assert np.abs(frame.astype(float) - grey).mean() > 5.0   # it did take the style
