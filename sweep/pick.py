"""`sweep pick`: take one frame of a finished job, as it is or re-rendered larger.

    sweep pick outputs/quickstart/rings --suggested                 # copy the balanced frame
    sweep pick outputs/quickstart/rings --weight 3 --size 1024      # re-render at 1024 px

Choosing: `frame` is a frame index (the `f007` of the file name), `weight` the
frame whose content weight is nearest in log space, `suggested` the frame flagged
``"suggested": true`` in ``frames.json`` (the balanced frame of the sheet).

Without `size` the stored PNG is copied byte for byte. With `size` the frame is
optimised again at that longest side: the run's resolved config (``config.yaml``
of the run directory, found by walking up from the job directory, refused when
edited since the run made the frames: `--set` changes the re-render's settings) with
``image.max_size = size``, the photo and painting resized as a run of that size
would resize them, the same content weight, and as the starting image the chosen
frame upsampled (Lanczos) to the new size, so the result keeps the preview's
composition and colours and only gains detail. `overrides` (`--set KEY=VALUE`) change
the run's config for the re-render, e.g. `runtime.memory_budget_mb=400`: a frame that
does not fit the budget is optimised in tiles (sweep/tiles.py). `dry_run` writes
nothing and returns the plan in `PickResult.plan`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from . import atomic, integrity, ownership
from .atomic import write_bytes
from .config import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, load_config
from .errors import SweepError
from .layout import CONFIG_FILE as CONFIG, MANIFEST_FILE, RECORDS_FILE as RECORDS, frame_filename
from .lock import run_dir_lock
from .identity import changed_inputs, config_hash
from .store import JobStore, read_json
from .weight_text import format_weight
# How far up from a job directory config.yaml may be: RUN/ARTIST or RUN/PHOTO/ARTIST.
MAX_DEPTH = 2


@dataclass
class PickResult:
    path: Path                # the written PNG
    index: int
    content_weight: float
    source: Path              # the stored frame it came from
    size: tuple[int, int]     # (height, width) of the written PNG
    rerendered: bool
    iterations: int = 0       # optimiser iterations run (0 for a copy)
    plan: str = ""            # dry_run: what would be done, and the re-render's plan


def find_run_dir(job_dir: Path) -> Path:
    """The run directory of a job: the nearest parent (at most MAX_DEPTH up) holding config.yaml."""
    for parent in list(job_dir.resolve().parents)[:MAX_DEPTH]:
        if (parent / CONFIG).is_file():
            return parent
    raise SweepError(f"no {CONFIG} found above {job_dir}: expected a job directory of a run, "
                     f"such as outputs/quickstart/rings or outputs/gallery/PHOTO/ARTIST")


def load_job_records(job_dir: Path) -> tuple[list[dict], dict[int, str], list[tuple[int | None, str]]]:
    """(the job's well-formed frame records; why the frame of each that cannot be picked,
    by index, is damaged; what is wrong with the records that are not even well-formed,
    each with the frame index it claims or None)."""
    if not job_dir.exists():
        raise SweepError(f"job directory not found: {job_dir}")
    if not job_dir.is_dir():
        raise SweepError(f"not a directory: {job_dir} (expected a job directory holding {RECORDS})")
    if not (job_dir / RECORDS).is_file():
        raise SweepError(f"{job_dir} has no {RECORDS}: expected a job directory of a finished run, "
                         f"such as outputs/quickstart/rings")
    # The rule `run` and `status` apply: a record of the wrong shape, naming a file other
    # than its own frame, or whose PNG is missing or does not decode is never picked.
    found = JobStore(job_dir).inspect()
    if not found.usable:
        raise SweepError(f"{job_dir} has no stored frames yet"
                         + (f" (damaged: {found.problems[0]})" if found.problems else ""))
    damaged = {**{r["index"]: f"{r['file']} is missing" for r in found.absent}, **found.damaged}
    return found.well_formed, damaged, found.malformed


def choose(records: list[dict], *, frame: int | None = None, weight: float | None = None,
           suggested: bool = False) -> dict:
    """The record picked by exactly one of `frame`, `weight` or `suggested`."""
    given = sum([frame is not None, weight is not None, bool(suggested)])
    if given != 1:
        raise SweepError("choose the frame with exactly one of --frame I, --weight W or --suggested")
    if frame is not None:
        for record in records:
            if int(record["index"]) == frame:
                return record
        indices = sorted(int(r["index"]) for r in records)
        span = f"{indices[0]}..{indices[-1]}" if indices == list(range(indices[0], indices[-1] + 1)) \
            else ", ".join(map(str, indices))
        raise SweepError(f"frame {frame} is out of range: this job has frames {span}")
    if weight is not None:
        if isinstance(weight, bool) or not math.isfinite(weight) or weight <= 0:
            raise SweepError(f"--weight must be a positive number; got {weight!r}")
        return min(records, key=lambda r: (abs(math.log(float(r["content_weight"])) - math.log(weight)),
                                           -float(r["content_weight"])))
    flagged = [r for r in records if r.get("suggested") is True]
    if not flagged:
        raise SweepError(f"this job has no suggested frame in {RECORDS} (it is flagged when the movies and "
                         "sheet are rendered); pick one with --frame or --weight")
    return flagged[0]


def default_out(job_dir: Path, record: dict, size: int | None) -> Path:
    name = Path(frame_filename(int(record["index"]), float(record["content_weight"]))).stem
    return job_dir / (f"pick_{name}.png" if size is None else f"pick_{name}_{size}px.png")


def pick(job_dir: str | Path, *, frame: int | None = None, weight: float | None = None,
         suggested: bool = False, size: int | None = None, iterations: int | None = None,
         out: str | Path | None = None, progress: bool = False,
         log: Callable[[str], None] | None = None, overrides: Sequence[str] = (),
         dry_run: bool = False) -> PickResult:
    """Write the chosen frame of `job_dir` to `out` (see the module docstring)."""
    job = Path(job_dir)
    if size is not None and (isinstance(size, bool) or not MIN_IMAGE_SIDE <= size <= MAX_IMAGE_SIDE):
        raise SweepError(f"--size must be between {MIN_IMAGE_SIDE} and {MAX_IMAGE_SIDE} pixels; got {size}")
    if iterations is not None and iterations < 1:
        raise SweepError(f"--iterations must be at least 1; got {iterations}")
    if iterations is not None and size is None:
        raise SweepError("--iterations applies to a re-render: add --size PX")
    if overrides and size is None:
        raise SweepError(f"--set applies to a re-render: add --size PX (got --set {overrides[0]})")
    for override in overrides:   # the re-render starts from this run's frame of this photo and paintings
        key_text, assigns, _ = override.partition("=")
        key = key_text.strip().split(".")
        sets_inputs = key[0] == "content" or key[0] == "styles" and (len(key) < 3
                                                                    or key[2] in ("painting", "paintings"))
        if assigns and sets_inputs:   # without "=" the config's parser names the form
            raise SweepError(f"--set {override}: a re-render keeps the run's photo and paintings, since it starts "
                             f"from the chosen frame; run `sweep run` with the other inputs instead")
    records, damaged, malformed = load_job_records(job)
    try:
        record = choose(records, frame=frame, weight=weight, suggested=suggested)
    except SweepError as exc:
        if not malformed:
            raise
        own = [problem for index, problem in malformed if index is not None and index == frame]
        prefix = f"frame {frame} is damaged: {own[0]}" if own else f"{exc}; damaged: {malformed[0][1]}"
        raise SweepError(f"{prefix} (the next `sweep run` of this run makes it again)") from None
    if record["index"] in damaged:
        raise SweepError(f"frame {record['index']} (content weight {format_weight(record['content_weight'])}) is "
                         f"damaged: {damaged[record['index']]}; the next `sweep run` of this run makes it again")
    source = job / record["file"]
    target = Path(out) if out is not None else default_out(job, record, size)
    if target.exists() and target.is_dir():
        raise SweepError(f"--out {target} is a directory; name the PNG to write")
    if target.suffix.lower() != ".png":
        raise SweepError(f"--out must name a .png file; got {target}")
    if dry_run:
        return _dry_run(job, record, target, size, iterations, overrides)
    with _locked_pick(job, target) as write:
        if size is None:
            write(lambda: write_bytes(target, source.read_bytes()))
            from .images import read_png
            shape = read_png(source).shape
            return PickResult(path=target, index=int(record["index"]),
                              content_weight=float(record["content_weight"]), source=source,
                              size=(shape[0], shape[1]), rerendered=False)
        image, steps = rerender(job, record, size, iterations=iterations, progress=progress, log=log,
                                overrides=overrides)
        from .images import save_png
        write(lambda: save_png(target, image))
    return PickResult(path=target, index=int(record["index"]), content_weight=float(record["content_weight"]),
                      source=source, size=(image.shape[0], image.shape[1]), rerendered=True, iterations=steps)


@contextlib.contextmanager
def _locked_pick(job_dir: Path, target: Path) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Hold the run's lock for the whole pick, re-render included (a `sweep run --force`
    meanwhile would file this pick into another config's run); refuse a target that is one
    of the run's own files or a file no pick wrote. Yields `write(save)`, which notes the
    pick in the manifest and then calls `save`: a pick that fails or is killed in between
    leaves a noted pick without its file, never a file the run then calls foreign."""
    run_dir = find_run_dir(job_dir)
    with run_dir_lock(run_dir, "pick"):
        manifest_path = run_dir / MANIFEST_FILE
        manifest = read_json(manifest_path, None)
        _check_manifest_shape(manifest_path, manifest)
        around = integrity.run_dir_around(target)
        if around is not None and around != run_dir.resolve():
            raise SweepError(f"--out {target} is inside another run directory, {around}, which would then refuse "
                             f"to resume; choose a path outside it")
        key = ownership.check_pick_target(run_dir, manifest, target)

        def write(save: Callable[[], None]) -> None:
            if manifest is not None:  # a frame store without a run around it keeps no list
                ownership.record_pick(manifest, key)
                atomic.write_json(manifest_path, manifest)
            save()

        yield write


def _dry_run(job_dir: Path, record: dict, target: Path, size: int | None, iterations: int | None,
             overrides: Sequence[str]) -> PickResult:
    """What `pick` would do, in `PickResult.plan`; nothing is written and no network is built."""
    index, content_weight = int(record["index"]), float(record["content_weight"])
    source = job_dir / record["file"]
    if size is None:
        return PickResult(path=target, index=index, content_weight=content_weight, source=source, size=(0, 0),
                          rerendered=False, plan=f"would copy {source} to {target}")
    _, plan, job = rerender_plan(job_dir, size, iterations, overrides)
    lines = [f"would re-render frame {index} of {job.relative_dir} (content weight {content_weight:.4g}) "
             f"at {job.frame_size[1]}x{job.frame_size[0]} into {target}", *_job_plan(plan)]
    return PickResult(path=target, index=index, content_weight=content_weight, source=source,
                      size=job.frame_size, rerendered=False, plan="\n".join(lines))


def _job_of(jobs, run_dir: Path, job_dir: Path):
    relative = job_dir.resolve().relative_to(run_dir.resolve()).as_posix()
    for job in jobs:
        if job.relative_dir == relative:
            return job
    raise SweepError(f"{job_dir} is not a job of the run in {run_dir} "
                     f"(its jobs: {', '.join(j.relative_dir for j in jobs)})")


def rerender_plan(job_dir: Path, size: int, iterations: int | None, overrides: Sequence[str]):
    """(config, plan, job) of a re-render: the run's config with `overrides`, then the
    size, iterations and one frame at a time."""
    from .plan import make_plan

    run_dir = find_run_dir(job_dir)
    _check_run_unchanged(run_dir, job_dir)
    config = load_config(run_dir / CONFIG, overrides)
    optimizer = config.optimizer if iterations is None else dataclasses.replace(config.optimizer,
                                                                                iterations=int(iterations))
    # The frame starts from its own upsampled preview: no keyframes or chain apply.
    config = dataclasses.replace(config, init="content", image=dataclasses.replace(config.image, max_size=int(size)),
                                 optimizer=optimizer, runtime=dataclasses.replace(config.runtime, chunk_size=1))
    plan = make_plan(config, size_setting="--size")  # reads the photo and the paintings at the new size
    return config, plan, _job_of(plan.jobs, run_dir, job_dir)


def _check_run_unchanged(run_dir: Path, job_dir: Path) -> None:
    """Refuse a re-render whose config.yaml was edited, or whose photo or paintings
    changed, since the run made the frame (`sweep run` refuses to resume either): an
    edited config is no longer the run's, and new inputs would have the re-render start
    from the old picture and optimise towards the new one. The config is checked first,
    since the input digest is taken at the config's sizes and differs once they are edited."""
    from .plan import make_jobs

    manifest_path = run_dir / MANIFEST_FILE
    manifest = read_json(manifest_path, None)
    if manifest is None:   # a frame store without a run around it: nothing to compare with
        return
    _check_manifest_shape(manifest_path, manifest)
    config = load_config(run_dir / CONFIG)
    if manifest.get("config_hash") != config_hash(config):
        raise SweepError(f"{run_dir / CONFIG} was edited since the run made its frames (it no longer matches the "
                         f"config hash in {MANIFEST_FILE}); restore it, and change settings for the re-render "
                         f"with --set KEY=VALUE (or make the frames again from the edited config with "
                         f"`sweep run --force`)")
    # the jobs only: the run's own frame size need not fit this machine's memory budget
    job = _job_of(make_jobs(config), run_dir, job_dir)
    if changed_inputs(manifest, {job.relative_dir: job.inputs_sha256}):
        raise SweepError(f"the photo or a painting of {job.relative_dir} changed since the run made its frames "
                         f"({', '.join([job.photo_source, *job.style_sources])}); restore them, or run "
                         f"`sweep run` again (with --force) to make the frames from the new ones")


def _check_manifest_shape(manifest_path: Path, manifest) -> None:
    if manifest is not None and integrity.manifest_problem(manifest):
        raise SweepError(f"{manifest_path} is damaged; `sweep run --force` replaces the run's frames")


def _job_plan(plan) -> list[str]:
    """Optimiser, tiles, memory and time of one frame of a re-render's plan."""
    from .plan import format_duration

    est = plan.estimate
    frames = plan.frame_count
    lines = [f"optimizer: {plan.config.optimizer.name}, up to {plan.config.optimizer.iterations} iterations"]
    if est.tiles is not None:
        lines.append(f"{est.tiles.describe(plan.config.model.deepest_layer)}; estimated peak memory "
                     f"{est.peak_bytes / 2**20:.0f} MB (a whole frame would need {est.bytes_per_frame / 2**20:.0f} MB)")
    else:
        lines.append(f"no tiles: the whole frame fits; estimated peak memory {est.peak_bytes / 2**20:.0f} MB")
    lines.append(f"estimated time: {format_duration(est.seconds / frames)} on {est.device}")
    return lines


def rerender(job_dir: Path, record: dict, size: int, *, iterations: int | None = None,
             progress: bool = False, log: Callable[[str], None] | None = None,
             overrides: Sequence[str] = ()) -> tuple[np.ndarray, int]:
    """Optimise the frame of `record` again at longest side `size`, starting from the
    stored frame upsampled; returns (uint8 image, iterations run)."""
    from . import weights as weights_module
    from .quiet import import_keras

    import_keras()
    from .engine import build_engine
    from .images import read_png, resize_to
    from .progress import ProgressBar

    config, plan, job = rerender_plan(job_dir, size, iterations, overrides)
    preview = read_png(job_dir / record["file"])
    start = resize_to(preview, job.frame_size)
    resolved = weights_module.resolve_weights(config.model.weights)
    if log:
        h, w = job.frame_size
        log(f"re-rendering frame {int(record['index'])} of {job.relative_dir} (content weight "
            f"{float(record['content_weight']):.4g}) at {w}x{h}, up to {config.optimizer.iterations} iterations")
        if plan.estimate.tiles is not None:
            log(plan.estimate.tiles.describe(config.model.deepest_layer))
    engine = build_engine(config, resolved)
    index, weight = int(record["index"]), float(record["content_weight"])
    bar = ProgressBar(1, config.optimizer.iterations, enabled=progress)
    try:
        results = engine.optimise(job.relative_dir, job.photo_image, job.style, [(index, weight)], 1,
                                  [bar], start_images={index: start})
    finally:
        bar.close()
    result = results[0]
    if result.status != "done" or result.image is None:
        raise SweepError(f"re-rendering frame {index} failed: {result.message}")
    return result.image, result.iterations


__all__ = ["PickResult", "choose", "default_out", "find_run_dir", "pick", "rerender"]
