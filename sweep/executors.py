"""Executors: who optimises the missing frames of a plan.

The driver (`api.run`) builds the plan, opens the frame store, works out which
frames of which job are missing, and hands them to an executor. The executor
delivers every finished (or failed) frame as a `FrameResult` to the driver's
callbacks, in the driver process; the driver's `_StoreWriter` saves it through
the atomic frame store. So the store, the manifest, resume and rendering are the
same whichever executor optimised the frames.

- `local` (the default): one engine in this process, the jobs one after another,
  the frames of a job batched in chunks of `plan.chunk_size`. Callbacks see every
  step (`on_step`) as well as every frame.
- `ray` (`sweep.ray_executor`): one Ray task per chunk of frames of a job (`frames_per_task`, by default
  `plan.chunk_size`, so a task is one of the local executor's batches). A worker
  batches a task's frames by `runtime.chunk_size` when set, else by what fits its
  own device memory (the driver may be a CPU machine planning for GPU workers).
  A task receives the job's photo and paintings as uint8 arrays (no shared
  filesystem is assumed), the resolved config as YAML and its frames; it returns
  `FrameResult`s with uint8 images. Workers resolve the VGG16 weights themselves
  (`sweep.weights.resolve_weights`: each node's own `$KERAS_HOME` cache, else the
  download, else the ONNX import) and must find the weights the driver found
  (same sha256), else the task fails. Callbacks see `on_job_start`, `on_frame`
  and `on_job_end` on the driver, never `on_step` (the steps run remotely).
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .records import Callback
from .plan import Job, Plan, chunk_frames

Frames = list[tuple[int, float]]   # [(frame index, content weight), ...]
StoredFrame = Callable[[str, int], Any]   # (job, frame index) -> uint8 image of an earlier run, or None


@dataclass
class Task:
    """Frames of one job that one unit of work optimises together."""
    job: Job
    frames: Frames


def split_tasks(plan: Plan, todo: dict[str, Frames], frames_per_task: int) -> list[Task]:
    """The missing frames of every job, in plan order, on the fixed chunk grid of
    `frames_per_task` frames (plan.chunk_frames)."""
    return [Task(job, chunk) for job in plan.jobs
            for chunk in chunk_frames(list(todo.get(job.relative_dir, ())), frames_per_task)]


class Executor:
    """Optimises the missing frames of a plan and reports each one to the callbacks."""
    name = "executor"

    def __init__(self) -> None:
        self.submitted_frames = 0   # frames handed to the engine or to Ray by this executor
        self.tasks = 0              # units of work submitted (jobs for local, Ray tasks for ray)

    def check(self) -> None:
        """Refuse a run that cannot start (a missing package), before any file is written."""

    @contextlib.contextmanager
    def session(self):
        """Held around every `execute` of one run (spacing: even executes twice), so a
        connection is made once."""
        yield

    def progress(self, frames: int, iterations: int, enabled: bool) -> Callback:
        from .progress import ProgressBar
        return ProgressBar(frames, iterations, enabled=enabled)

    def describe(self, plan: Plan) -> str:
        return f"executor: {self.name}"

    def execute(self, plan: Plan, todo: dict[str, Frames], weights, callbacks: Sequence[Callback],
                stored_frame: StoredFrame | None = None) -> None:
        """`stored_frame(job, index)` is a frame done in an earlier run (uint8) or None;
        `init: chain` starts from it where a clean run would have started from that frame."""
        raise NotImplementedError


class LocalExecutor(Executor):
    """The jobs one after another in this process, each job's frames batched."""
    name = "local"

    def describe(self, plan: Plan) -> str:
        return f"executor: local, jobs one after another in this process, chunks of {plan.chunk_size} frame(s)"

    def execute(self, plan: Plan, todo: dict[str, Frames], weights, callbacks: Sequence[Callback],
                stored_frame: StoredFrame | None = None) -> None:
        from .engine import build_engine

        engine = build_engine(plan.config, weights)
        for job in plan.jobs:
            frames = todo.get(job.relative_dir)
            if frames:
                self.tasks += 1
                self.submitted_frames += len(frames)
                stored = functools.partial(stored_frame, job.relative_dir) if stored_frame else None
                engine.optimise(job.relative_dir, job.photo_image, job.style, frames,
                                plan.chunk_size, callbacks, stored_frame=stored, layout=job.layout)


__all__ = ["Executor", "Frames", "LocalExecutor", "StoredFrame", "Task", "split_tasks"]
