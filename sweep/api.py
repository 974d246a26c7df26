"""The Python API; the `sweep` command is a thin shell over these functions.

    import sweep
    config = sweep.load_config("configs/quickstart.yaml", overrides=["image.max_size=96"])
    print(sweep.make_plan(config).describe())
    result = sweep.run(config, out="outputs/quickstart")
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from . import atomic, spacing
from .compiles import Compilations, since, snapshot
from .config import Config, load_config
from .errors import SweepError
from .executors import Executor, LocalExecutor
from .layout import CONFIG_FILE, MANIFEST_FILE, is_keyframes_job, keyframes_dir
from .lock import run_dir_lock
from .morph import even_spacing
from .records import Callback, FrameResult
from .plan import Job, Plan, make_plan
from .store import JobStore, RunStore


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class RunResult:
    out_dir: Path
    plan: Plan
    weights_source: str
    optimised: int                      # frames optimised by this call (not resumed)
    failed: list[tuple[str, int, str]]  # (job, frame index, message)
    outputs: list[Path] = field(default_factory=list)
    executor: str = "local"
    tasks: int = 0                      # units of work submitted (local: jobs; ray: Ray tasks)
    # Traces of the compiled functions in this process (sweep/compiles.py); a Ray run
    # compiles in its workers, so it counts none here.
    compilations: Compilations = field(default_factory=Compilations)

    def job_dir(self, relative_dir: str) -> Path:
        return self.out_dir / relative_dir


class _StoreWriter(Callback):
    """Saves every finished frame into the store and notes it in the manifest."""

    def __init__(self, store: RunStore, manifest: dict, job_stores: dict[str, JobStore]):
        self.store, self.manifest, self.job_stores = store, manifest, job_stores
        self.failed: list[tuple[str, int, str]] = []

    def on_frame(self, job: str, result: FrameResult) -> None:
        # A signal meanwhile waits until the PNG, its record and the manifest are all
        # written: a frame whose PNG exists is never lost to an interrupt.
        with atomic.signals_deferred():
            if result.status == "done":
                self.job_stores[job].save(result)
            else:
                self.failed.append((job, result.index, result.message))
            self.store.record(self.manifest, job, result)


def default_out_dir(config_path: str | Path) -> Path:
    """outputs/<config file stem>; a run directory's own DIR/config.yaml (beside its
    manifest) runs in DIR, so `sweep run DIR/config.yaml` resumes that run."""
    config_path = Path(config_path)
    if config_path.name == CONFIG_FILE and (config_path.parent / MANIFEST_FILE).is_file():
        return config_path.parent
    return Path("outputs") / config_path.stem


def resolve(config: Config | str | Path, overrides: Sequence[str] = ()) -> Config:
    if isinstance(config, Config):
        if overrides:
            raise ValueError("overrides apply to a config file; edit the Config object instead")
        return config
    return load_config(config, overrides)


def run(config: Config | str | Path, out: str | Path | None = None, *, overrides: Sequence[str] = (),
        force: bool = False, progress: bool | None = None, callbacks: Sequence[Callback] = (),
        log: Callable[[str], None] = _stderr, executor: str | Executor = "local",
        address: str | None = None, gpus_per_task: float | None = None,
        frames_per_task: int | None = None) -> RunResult:
    """Optimise every missing frame of every job, then render movies, sheets and comparisons.

    `executor` is "local" (this process), "ray" (one Ray task per chunk of frames; see
    sweep/ray_executor.py for `address`, `gpus_per_task` and `frames_per_task`) or an
    `Executor` instance. Whichever optimises the frames, this process saves them.
    """
    from . import weights as weights_module

    if out is None:
        if isinstance(config, Config):
            raise ValueError("pass `out` when running a Config object")
        out = default_out_dir(config)
    # Every check comes before the first write: config, output directory (not created
    # here), inputs and memory (make_plan), weights, then the store's own checks.
    config = resolve(config, overrides)
    executor = make_executor(executor, address=address, gpus_per_task=gpus_per_task,
                             frames_per_task=frames_per_task)
    executor.check()
    store = RunStore(out)
    store.check_writable()
    plan = make_plan(config)
    store.check_case_collisions([job.relative_dir for job in plan.jobs])
    resolved = weights_module.resolve_weights(config.model.weights)
    with run_dir_lock(store.directory, "run"):
        return _run_locked(config, store, plan, resolved, executor, force=force, progress=progress,
                           callbacks=callbacks, log=log)


def check_out_dir(plan: Plan, out: str | Path, force: bool = False) -> None:
    """What a run of `plan` into `out` would refuse before it optimises anything (frames
    of another config or of changed inputs, files sweep did not write, a folder it
    cannot write), writing nothing: `sweep run --dry-run` checks it. The weights are not
    resolved, so a folder made with other weights is only refused by the run itself."""
    store = RunStore(out)
    store.check_writable()
    store.check_case_collisions([job.relative_dir for job in plan.jobs])
    if store.directory.is_dir():
        every_job = _every_job(plan, _hidden_keyframes(plan))
        store.check_resume(plan.config, [job.relative_dir for job in every_job], force,
                           {job.relative_dir: job.inputs_sha256 for job in every_job})


def _hidden_keyframes(plan: Plan) -> Plan | None:
    """Under spacing: even the keyframes run first, as hidden jobs (sweep/spacing.py)."""
    return spacing.keyframe_plan(plan) if even_spacing(plan.config) else None


def _every_job(plan: Plan, keyframes: Plan | None) -> list:
    """The jobs a run writes: the hidden keyframe jobs first, then the plan's."""
    return (keyframes.jobs if keyframes else []) + plan.jobs


def _run_locked(config: Config, store: RunStore, plan: Plan, resolved, executor: Executor, *, force: bool,
                progress: bool | None, callbacks: Sequence[Callback], log: Callable[[str], None]) -> RunResult:
    """`run` once this process holds the run directory's lock (sweep/lock.py)."""
    # the movie formats the directory's last run rendered, read before `open` writes this run's config
    rendered = store.rendered_movie_formats()
    keyframes = _hidden_keyframes(plan)
    every_job = _every_job(plan, keyframes)
    manifest = store.open(config, resolved.sha256, [job.relative_dir for job in every_job], force=force,
                          inputs={job.relative_dir: job.inputs_sha256 for job in every_job},
                          frame_shapes={job.relative_dir: job.frame_size for job in every_job}, warn=log)
    log(f"weights: {resolved.source} ({resolved.path})")  # not before a refusal: one line then

    job_stores = {job.relative_dir: store.job(job.relative_dir, job.artist_record()) for job in every_job}
    writer = _StoreWriter(store, manifest, job_stores)
    run_callbacks = [writer, *_snapshots(store.directory, config), *callbacks]
    traces_before = snapshot()
    optimised, put = 0, set()
    with executor.session():
        if keyframes:
            for hidden, job in zip(keyframes.jobs, plan.jobs):
                _repair_keyframes(hidden, job, job_stores, writer, log)
            optimised += _optimise(keyframes, _missing(keyframes, job_stores), 0, "keyframes", executor, resolved,
                                   run_callbacks, job_stores, progress, log)
            plan, put = _place_even(plan, job_stores, writer, log)
        optimised += _optimise(plan, _missing(plan, job_stores, put), len(put), "frames", executor, resolved,
                               run_callbacks, job_stores, progress, log)
    outputs = render(store.directory, plan, stale_formats=[kind for kind in rendered
                                                             if kind not in plan.config.movie.formats])
    # A failed keyframe of spacing: even is reported as the failed frame of its job.
    failed = [failure for failure in writer.failed if not is_keyframes_job(failure[0])]
    for job, index, message in failed:
        log(f"frame {index} of {job} failed: {message}")
    return RunResult(out_dir=store.directory, plan=plan, weights_source=resolved.source,
                     optimised=optimised, failed=failed, outputs=outputs,
                     executor=executor.name, tasks=executor.tasks, compilations=since(traces_before))


def _repair_keyframes(hidden: Job, job: Job, job_stores: dict[str, JobStore], writer: "_StoreWriter",
                      log: Callable[[str], None]) -> None:
    """Drop the keyframes of `job`'s hidden keyframe job whose records lack their losses,
    then put back the missing ones that `job` holds as frames (their copies); the keyframe
    pass optimises the rest again."""
    hidden_store = job_stores[hidden.relative_dir]
    damaged = spacing.drop_uncopyable(hidden_store)
    restored = spacing.restorable_keyframes(hidden_store, job_stores[job.relative_dir], hidden.weights)
    for result in restored:
        writer.on_frame(hidden.relative_dir, result)
    copied = {result.index for result in restored}
    for index in sorted(damaged):
        remedy = (f"it is copied back from {job.relative_dir}'s frames" if index in copied
                  else "it will be optimised again")
        log(f"warning: {hidden.relative_dir}: frame {index}'s record has no losses; {remedy}")
    if copied - damaged:
        log(f"{hidden.relative_dir}: {len(copied - damaged)} missing keyframe(s) copied back from "
            f"{job.relative_dir}'s frames")


def _place_even(plan: Plan, job_stores: dict[str, JobStore], writer: "_StoreWriter",
                log: Callable[[str], None]) -> tuple[Plan, set[tuple[str, int]]]:
    """(`plan` with the jobs of every photo placed by their stored keyframes (sweep/spacing.py),
    the (job, index) of the keyframes put into them now: copied, or noted as failed).
    Frames stored for another placement are dropped first."""
    by_photo: dict[str, list] = {}
    for job in plan.jobs:
        by_photo.setdefault(job.photo, []).append(job)
    placed_by_dir, put = {}, set()

    def failure(hidden: str, index: int) -> str:
        entry = writer.manifest["jobs"].get(hidden, {}).get("frames", {}).get(str(index), {})
        return f"its keyframe failed: {entry.get('message') or 'not done'}"

    for jobs in by_photo.values():
        stores = [job_stores[keyframes_dir(job.relative_dir)] for job in jobs]
        placement, placed = spacing.placed_jobs(jobs, stores, failure)
        for job, keyframes in placed:
            store = job_stores[job.relative_dir]
            noted = writer.manifest["jobs"].setdefault(job.relative_dir, {"frames": {}})
            stale = spacing.stale_frames(job, store, placement, noted.get("placement"))
            if stale:
                log(f"warning: {job.relative_dir}: {len(stale)} frame(s) were made for another placement of the "
                    f"in-betweens (an artist of this photo changed, or a keyframe failed before); "
                    f"they will be optimised again")
            with atomic.signals_deferred():   # never the new placement beside frames of the old
                store.drop(stale)
                noted["placement"] = placement
                writer.store.save_manifest(writer.manifest)
            done = store.completed()
            for position, keyframe in enumerate(keyframes):
                if keyframe.index not in done:
                    # the snapshots first: a frame once stored is never copied again
                    spacing.copy_snapshots(writer.store.directory, job.relative_dir, position, keyframe.index)
                    writer.on_frame(job.relative_dir, keyframe)
                    put.add((job.relative_dir, keyframe.index))
            placed_by_dir[job.relative_dir] = job
    return dataclasses.replace(plan, jobs=[placed_by_dir[job.relative_dir] for job in plan.jobs]), put


def _missing(plan: Plan, job_stores: dict[str, JobStore],
             put: set[tuple[str, int]] = frozenset()) -> dict[str, list[tuple[int, float]]]:
    """Every job's frames [(index, weight), ...] that its store lacks, but for those in `put`."""
    todo = {}
    for job in plan.jobs:
        done = job_stores[job.relative_dir].completed()
        todo[job.relative_dir] = [(i, w) for i, w in enumerate(job.weights)
                                  if i not in done and (job.relative_dir, i) not in put]
    return todo


def _optimise(plan: Plan, todo: dict[str, list[tuple[int, float]]], copied: int, what: str,
              executor: Executor, resolved, callbacks: list[Callback], job_stores: dict[str, JobStore],
              progress: bool | None, log: Callable[[str], None]) -> int:
    """Optimise the `todo` frames of `plan` (`what`: "frames" or "keyframes", for the log);
    returns how many. `copied`: frames just put in place (spacing: even's keyframes, copied
    or noted as failed), not done by an earlier run."""
    config = plan.config
    missing = sum(len(frames) for frames in todo.values())
    resumed = plan.frame_count - missing - copied
    if resumed > 0:
        log(f"resuming: {resumed} of {plan.frame_count} {what} already done")
    if missing:
        show = config.runtime.progress if progress is None else progress
        bar = executor.progress(missing, config.optimizer.iterations, enabled=show)
        try:
            executor.execute(plan, todo, resolved, [callbacks[0], bar, *callbacks[1:]],
                             stored_frame=lambda job, index: job_stores[job].image(index))
        finally:
            bar.close()
    return missing


def render(out_dir: str | Path, plan: Plan, stale_formats: Sequence[str] = ()) -> list[Path]:
    """Rebuild every movie, sheet and comparison from the stored frames; remove the
    movies of `stale_formats`, which an earlier run rendered and this one does not."""
    from .render import render_job
    from .render.compare import write_compare

    out_dir = Path(out_dir)
    movie = plan.config.movie
    outputs: list[Path] = []
    by_photo: dict[str, dict[str, Path]] = {}
    complete: dict[str, dict[str, Path]] = {}  # jobs with every frame: comparable in sync
    for job in plan.jobs:
        job_dir = out_dir / job.relative_dir
        records = JobStore(job_dir).records()
        if records:
            JobStore(job_dir).mark_suggested()
            JobStore(job_dir).write_motion()
            outputs += render_job(job_dir, movie, stale_formats)
            by_photo.setdefault(job.photo, {})[job.artist] = job_dir
            if len(records) == len(job.weights):
                complete.setdefault(job.photo, {})[job.artist] = job_dir
    for job_dirs in complete.values():
        if len(job_dirs) > 1:
            compare_dir = next(iter(job_dirs.values())).parent
            outputs += write_compare(job_dirs, compare_dir, fps=movie.fps, hold=movie.hold,
                                     crossfade=movie.crossfade, boomerang=movie.boomerang,
                                     formats=tuple(movie.formats), stale_formats=stale_formats)
    outputs += _render_extras(out_dir, plan, by_photo)
    return outputs


def _snapshots(out_dir: Path, config: Config) -> list[Callback]:
    """The progress-snapshot callback when movie.progress_every is set (see sweep/snapshots.py)."""
    if config.movie.progress_every <= 0:
        return []
    from .snapshots import ProgressSnapshots
    return [ProgressSnapshots(out_dir, config.movie.progress_every)]


def _render_extras(out_dir: Path, plan: Plan, by_photo: dict[str, dict[str, Path]]) -> list[Path]:
    """progress.gif of every job that has snapshots, then DIR/index.html."""
    from .render.progress import write_progress_gif
    from .render.report import write_report

    outputs: list[Path] = []
    for job_dirs in by_photo.values():
        for job_dir in job_dirs.values():
            gif = write_progress_gif(job_dir, fps=plan.config.movie.fps)
            if gif is not None:
                outputs.append(gif)
    groups: dict[str, dict[str, Path]] = {}
    for job in plan.jobs:
        groups.setdefault(job.photo, {})[job.artist] = out_dir / job.relative_dir
    outputs.append(write_report(out_dir, groups))
    return outputs


EXECUTORS = ("local", "ray")


def make_executor(executor: str | Executor = "local", *, address: str | None = None,
                  gpus_per_task: float | None = None, frames_per_task: int | None = None) -> Executor:
    """An executor by name; an `Executor` instance is used as it is."""
    if isinstance(executor, Executor):
        return executor
    if executor == "local":
        ignored = [name for name, value in (("--address", address), ("--gpus-per-task", gpus_per_task),
                                            ("--frames-per-task", frames_per_task)) if value is not None]
        if ignored:
            raise SweepError(f"{' and '.join(ignored)} only {'applies' if len(ignored) == 1 else 'apply'} "
                             f"to --executor ray")
        return LocalExecutor()
    if executor == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=address, gpus_per_task=gpus_per_task, frames_per_task=frames_per_task)
    raise SweepError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")


__all__ = ["RunResult", "default_out_dir", "load_config", "make_executor", "make_plan", "render", "resolve", "run"]
