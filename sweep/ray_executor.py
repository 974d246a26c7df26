"""The `ray` executor: one Ray task per chunk of frames of a job (see `sweep.executors`).

Reproducibility. A frame starts from the same image whichever task optimises it
(the noise init is seeded per frame index), and by default a Ray task is exactly
one local batch, so on the same kind of machine a frame sees the same batch under
both executors: the tiny gallery of tests/test_ray.py and configs/gallery.yaml at
48 px came out bit-identical (the test allows max 2/255, mean < 0.5/255 per pixel;
two local runs themselves have differed by 1/255). A different batching (a
`frames_per_task` below the chunk size, or workers whose memory gives another
chunk size) changes float32 rounding (about 2e-7 relative in the gradient), which
L-BFGS amplifies in style-dominated frames: at 96 px and 60 iterations, frames of
content weight 0.1 differed by up to 66/255 (mean 8/255) with losses within 2%.
For frames that agree across machines, set `runtime.chunk_size` and leave
`frames_per_task` at its default.

Several GPUs on one machine: the `local` executor runs on the backend's default
device only. Start a local Ray instance instead (`--executor ray` without
`--address`, `--gpus-per-task 1`): Ray runs one task per GPU at a time and
gives each its own `CUDA_VISIBLE_DEVICES`.
"""
from __future__ import annotations

import contextlib
import hashlib
import sys
from typing import Any, Callable, Sequence

from . import atomic
from .errors import SweepError
from .executors import Executor, Frames, StoredFrame, Task, split_tasks
from .plan import Plan, chunk_size_for
from .progress import FrameProgress
from .records import Callback, FrameResult

DEFAULT_MAX_RETRIES = 3
RAY_MISSING = "the ray executor needs Ray: pip install 'sweep[ray]'"


def import_ray():
    try:
        import ray
    except ImportError:
        raise SweepError(RAY_MISSING) from None
    return ray


class RayExecutor(Executor):
    """One Ray task per chunk of frames of a job; results are written by the driver.

    address: passed to `ray.init` (e.g. "auto", "HOST:6379", "ray://HOST:10001");
        None starts a local Ray instance, or uses the one this process already
        initialised. A Ray instance this executor started is shut down after the run.
    gpus_per_task: `num_gpus` of each task; None asks for 1 when the cluster has
        GPUs (when the run starts) and 0 otherwise. Fractions share a GPU between
        tasks. Pass it explicitly to an autoscaling cluster whose GPU nodes are not up yet.
    frames_per_task: frames per task; None uses the plan's chunk size, so each task
        is one batch of the local executor and a long sweep becomes several tasks.
    max_retries: how often Ray reruns a task whose worker died or that raised.
    runtime_env: merged into each task's Ray runtime environment (e.g. env_vars).
    task: the function each Ray task runs, `optimise_task` or one that wraps it.
    """
    name = "ray"

    def __init__(self, address: str | None = None, gpus_per_task: float | None = None,
                 frames_per_task: int | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
                 cpus_per_task: float = 1, runtime_env: dict[str, Any] | None = None,
                 task: Callable[..., list[FrameResult]] | None = None):
        super().__init__()
        if gpus_per_task is not None and gpus_per_task < 0:
            raise SweepError(f"--gpus-per-task must be >= 0; got {gpus_per_task:g}")
        if frames_per_task is not None and frames_per_task < 1:
            raise SweepError(f"--frames-per-task must be at least 1; got {frames_per_task}")
        if max_retries < 0:
            raise SweepError(f"max_retries must be >= 0; got {max_retries}")
        self.address = address
        self.gpus_per_task = gpus_per_task
        self.frames_per_task = frames_per_task
        self.max_retries = max_retries
        self.cpus_per_task = cpus_per_task
        self.runtime_env = dict(runtime_env or {})
        self.task = task or optimise_task
        self._started = False      # this run started the local Ray instance it is connected to
        self._in_session = False

    def check(self) -> None:
        import_ray()

    def progress(self, frames: int, iterations: int, enabled: bool) -> Callback:
        return FrameProgress(frames, enabled=enabled)

    def per_task(self, plan: Plan) -> int:
        return self.frames_per_task or plan.chunk_size

    def describe(self, plan: Plan) -> str:
        per_task = self.per_task(plan)
        everything = {job.relative_dir: list(enumerate(job.weights)) for job in plan.jobs}
        tasks = len(split_tasks(plan, everything, per_task))
        gpus = ("1 GPU per task if the cluster has GPUs" if self.gpus_per_task is None
                else f"{self.gpus_per_task:g} GPU(s) per task")
        return (f"executor: ray at {self.address or 'a new local instance'}, {tasks} task(s) of up to "
                f"{per_task} frame(s), {gpus}, up to {self.max_retries} retries")

    def _connect(self) -> bool:
        """Connect to (or start) Ray; True when this call started it."""
        ray = import_ray()
        if ray.is_initialized():
            return False
        try:
            # Workers' output (TensorFlow's start-up chatter) stays in Ray's session logs
            # (/tmp/ray/session_latest/logs on each node); a task's error reaches the driver.
            if self.address:
                ray.init(address=self.address, logging_level="warning", log_to_driver=False)
            else:
                ray.init(include_dashboard=False, logging_level="warning", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SweepError(f"cannot connect to Ray at {self.address or 'a new local instance'}: "
                             f"{' '.join(str(exc).split())}") from None
        return True

    def _task_options(self, ray, started: bool) -> dict[str, Any]:
        from .backend import worker_env_vars

        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        gpus = self.gpus_per_task if self.gpus_per_task is not None else (1 if cluster_gpus >= 1 else 0)
        if gpus > cluster_gpus:
            if started:  # our own local instance: nothing will ever add a GPU
                raise SweepError(f"--gpus-per-task {gpus:g}: this machine's Ray instance has {cluster_gpus:g} "
                                 f"GPU(s), so no task could ever be scheduled")
            print(f"warning: the Ray cluster has {cluster_gpus:g} GPU(s) now; the tasks ask for {gpus:g} each "
                  f"and wait until the autoscaler adds GPU nodes", file=sys.stderr, flush=True)
        env = dict(self.runtime_env)
        env["env_vars"] = {**worker_env_vars(), **env.get("env_vars", {})}
        return dict(num_gpus=gpus, num_cpus=self.cpus_per_task, max_retries=self.max_retries,
                    retry_exceptions=True, runtime_env=env)

    @contextlib.contextmanager
    def session(self):
        """Keep the connection that the run's first `execute` makes until its last one
        is done; a local instance that this run started is shut down then."""
        self._in_session = True
        try:
            yield
        finally:
            self._in_session = False
            if self._started:
                import_ray().shutdown()
                self._started = False

    def execute(self, plan: Plan, todo: dict[str, Frames], weights, callbacks: Sequence[Callback],
                stored_frame: StoredFrame | None = None) -> None:
        ray = import_ray()
        if not ray.is_initialized():
            self._started = self._connect()
        try:
            self._execute(ray, plan, todo, weights, callbacks, self._started, stored_frame)
        finally:
            if self._started and not self._in_session:
                ray.shutdown()
                self._started = False

    def _execute(self, ray, plan, todo, weights, callbacks, started: bool, stored_frame) -> None:
        """Under `init: keyframes` the keyframes' tasks run first; the in-betweens' tasks
        start once every keyframe is stored, and receive the keyframes they start from."""
        config = plan.config
        per_task = self.per_task(plan)
        remote = ray.remote(self.task).options(**self._task_options(ray, started))
        config_yaml = config.to_yaml()
        shared_objects: dict[tuple[str, str], Any] = {}   # each photo and artist's Style is put once

        def shared(key, array):
            if key not in shared_objects:
                shared_objects[key] = ray.put(array)
            return shared_objects[key]

        passes = [split_tasks(plan, frames, per_task) for frames in _passes(plan, todo)]
        remaining: dict[str, int] = {}
        for task in (task for tasks in passes for task in tasks):
            job = task.job.relative_dir
            if job not in remaining:
                remaining[job] = 0
                for callback in callbacks:
                    callback.on_job_start(job, len(todo[job]), config.optimizer.iterations)
            remaining[job] += 1
        for tasks in passes:
            pending: dict[Any, Task] = {}
            for task in tasks:
                job = task.job
                ref = remote.remote(config_yaml, weights.sha256, job.relative_dir,
                                    shared(("photo", job.photo), job.photo_image),
                                    shared(("style", job.artist), job.style), task.frames,
                                    _start_frames(config, task, per_task, stored_frame), job.layout)
                pending[ref] = task
                self.tasks += 1
                self.submitted_frames += len(task.frames)
            self._collect(ray, pending, remaining, callbacks)

    def _collect(self, ray, pending: dict[Any, Task], remaining: dict[str, int], callbacks) -> None:
        """Hand every frame of the pending tasks to the callbacks as its task finishes."""
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                job = task.job.relative_dir
                try:
                    results = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    message = _short_error(exc, self.max_retries)
                    results = [_failed_frame(index, weight, message) for index, weight in task.frames]
                with atomic.signals_deferred():   # a task's frames are stored together (sweep/neighbours.py)
                    for result in results:
                        for callback in callbacks:
                            callback.on_frame(job, result)
                remaining[job] -= 1
                if not remaining[job]:
                    for callback in callbacks:
                        callback.on_job_end(job)


def _passes(plan: Plan, todo: dict[str, Frames]) -> list[dict[str, Frames]]:
    """The missing frames in the order they can run: under `init: keyframes` the
    keyframes (one at a time under continuation, every job's in parallel), then the
    in-betweens; else all at once."""
    config = plan.config
    if config.init != "keyframes":
        return [todo]
    from .morph import split_passes

    keyframes = {job.relative_dir: job.keyframes for job in plan.jobs}
    split = {job: split_passes(frames, keyframes[job]) for job, frames in todo.items()}
    keys = {job: keys for job, (keys, _) in split.items()}
    if config.keyframes.continuation:
        # Every job of a plan has as many keyframes (spacing: even moves them, never adds one).
        passes = [{job: [f for f in frames if f[0] == keyframes[job][k]] for job, frames in keys.items()}
                  for k in range(len(plan.jobs[0].keyframes))]
    else:
        passes = [keys]
    return passes + [{job: betweens for job, (_, betweens) in split.items()}]


def _failed_frame(index: int, weight: float, message: str) -> FrameResult:
    nan = float("nan")
    return FrameResult(index=index, content_weight=float(weight), image=None, content_loss=nan,
                       style_loss=nan, tv_loss=nan, iterations=0, status="failed", message=message)


def _short_error(exc: BaseException, retries: int) -> str:
    cause = getattr(exc, "cause", None) or exc
    lines = [line for line in str(cause).strip().splitlines() if line.strip()]
    text = lines[-1].strip() if lines else type(cause).__name__
    return f"Ray task failed after {retries} retries: {text}"


# --------------------------------------------------------------------------- the task, on a worker

# One engine per worker process, for the config and weights it was built for:
# consecutive tasks of a gallery reuse the network and the compiled step.
_WORKER_ENGINES: dict[str, Any] = {}


def _worker_engine(config_yaml: str, weights_sha256: str):
    key = hashlib.sha256(f"{weights_sha256}\n{config_yaml}".encode()).hexdigest()
    engine = _WORKER_ENGINES.get(key)
    if engine is None:
        from .config import parse_config
        from .weights import resolve_weights

        config = parse_config(config_yaml, source="the driver's config")
        resolved = resolve_weights(config.model.weights)
        if resolved.sha256 != weights_sha256:
            raise SweepError(f"this worker resolved other VGG16 weights ({resolved.source}, {resolved.path}, "
                             f"sha256 {resolved.sha256[:12]}...) than the driver (sha256 {weights_sha256[:12]}...)")
        from .engine import build_engine

        engine = build_engine(config, resolved)
        _WORKER_ENGINES.clear()
        _WORKER_ENGINES[key] = engine
    return engine


def _start_frames(config, task: Task, per_task: int, stored_frame) -> dict[int, Any]:
    """The stored frames a task starts from, by index. Under `init: keyframes`, for
    in-betweens every keyframe of the job (all stored before the in-betweens' tasks
    start: the blends start from those around them, and all set the coupling's strength,
    `morph.coupling_strength`) and, under continuation, the keyframe before each of its
    keyframes.
    Under `init: chain`, the frame the task's first chunk starts from: tasks run in
    parallel, so a frame that another task of this run optimises is not there yet,
    and such a task starts from the photo."""
    if stored_frame is None or config.init not in ("chain", "keyframes"):
        return {}
    if config.init == "keyframes":
        from .morph import previous_keyframe, split_passes

        keyframes = task.job.keyframes
        keys, betweens = split_passes(task.frames, keyframes)
        wanted = set(keyframes) if betweens else set()
        if config.keyframes.continuation:
            wanted |= {previous_keyframe(index, keyframes) for index, _ in keys} - {None}
        found = {k: stored_frame(task.job.relative_dir, k) for k in sorted(wanted)}
        return {k: image for k, image in found.items() if image is not None}
    from .engine import chain_start

    start = chain_start(task.frames[0][0], per_task, lambda index: stored_frame(task.job.relative_dir, index))
    return dict([start]) if start else {}


def optimise_task(config_yaml: str, weights_sha256: str, job: str, photo, style, frames: Frames,
                  stored_frames: dict[int, Any] | None = None, layout=None) -> list[FrameResult]:
    """A Ray task: optimise `frames` of one job; images travel as uint8 arrays both ways
    (`style`: a records.Style, the artist's paintings with their shares and colours).
    `stored_frames`: stored frames that `init: chain` or the in-betweens of `init: keyframes`
    start from, by index; `layout`: the job's (content weights, keyframe indices), plan.Job.layout."""
    engine = _worker_engine(config_yaml, weights_sha256)
    # Batches as large as this worker's memory allows (the driver may be another machine).
    chunk_size = chunk_size_for(engine.config, photo, style, [weight for _, weight in frames])
    return engine.optimise(job, photo, style, frames, chunk_size,
                           stored_frame=(stored_frames or {}).get, layout=layout)


__all__ = ["DEFAULT_MAX_RETRIES", "RayExecutor", "import_ray", "optimise_task"]
