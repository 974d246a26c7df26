"""How fast an optimisation step runs here: what `sweep doctor` and scripts/device_check.py measure.

The unit is the frame-iteration: one frame through one optimiser step (L-BFGS, its
forward and input gradient of VGG16, the losses and the update). A step of a batch of
B frames is B frame-iterations, so frame-iterations per second are comparable across
batch sizes and say directly how long a sweep takes: frames x iterations / rate.
The sample photo and painting are used, so nothing is read from disk.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from keras import ops

from .config import Config, ModelSection, OptimizerSection
from .engine import SweepEngine, to_float_images
from .gradients import network_gradient
from .images import load_image, resize_max_side
from .model import FeatureExtractor
from .optimizers import make_optimizer

SAMPLE_PHOTO = "sample:grace_hopper"
SAMPLE_PAINTING = "sample:brushstrokes"
WARMUP_STEPS = 2   # the first compiles the step, the second its line-search helpers


@dataclass
class StepRate:
    side: int
    batch: int
    frame_shape: tuple[int, int]
    steps: int
    seconds: float
    evaluations_per_step: float

    @property
    def frame_iterations_per_second(self) -> float:
        return self.batch * self.steps / self.seconds

    @property
    def step_seconds(self) -> float:
        return self.seconds / self.steps

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "frame_shape": list(self.frame_shape),
                "step_s": round(self.step_seconds, 5),
                "frame_iterations_per_s": round(self.frame_iterations_per_second, 3)}


def sync(value) -> np.ndarray:
    """Wait for the device: a tiny slice brought back to the host."""
    return np.asarray(ops.convert_to_numpy(value))


class StepTimer:
    """Times L-BFGS steps of sweep's own objective on the sample photo and painting."""

    def __init__(self, extractor: FeatureExtractor, model: ModelSection | None = None):
        self.extractor = extractor
        self.config = Config(content=SAMPLE_PHOTO, styles={"sample": SAMPLE_PAINTING}, model=model or ModelSection())
        self.engine = SweepEngine(self.config, extractor)
        self.photo = load_image(SAMPLE_PHOTO)
        self.painting = load_image(SAMPLE_PAINTING)
        self._network = None

    def start(self, side: int, batch: int):
        """(objective, first images) of a batch of frames at `side` px, content weights 100 .. 0.1."""
        photo = resize_max_side(self.photo, side)
        photo01 = to_float_images(photo)
        targets = self.engine.targets(photo01, to_float_images(resize_max_side(self.painting, side)))
        weights = np.logspace(2, -1, batch).astype(np.float32)
        settings = (ops.convert_to_tensor(weights), ops.convert_to_tensor(np.float32(self.config.sweep.style_weight)),
                    ops.convert_to_tensor(np.float32(self.config.sweep.tv_weight)), targets.as_args())
        evaluate = self.engine.evaluate_objective
        return (lambda x: evaluate(x, *settings)), ops.repeat(photo01, batch, axis=0)

    def step_rate(self, side: int, batch: int, seconds: float = 1.0, max_steps: int = 1000) -> StepRate:
        """Steps after the warm-up until `seconds` have passed (one step at least)."""
        evaluate, x0 = self.start(side, batch)
        calls = [0]

        def counted(x):
            calls[0] += 1
            return evaluate(x)

        optimizer = make_optimizer("lbfgs", counted, x0, OptimizerSection(tolerance=0))
        active = np.ones(batch, dtype=bool)
        for _ in range(WARMUP_STEPS):
            optimizer.step(active)
        sync(optimizer.x[0, 0, 0])
        calls[0], steps = 0, 0
        started = time.perf_counter()
        while steps < max_steps and (steps == 0 or time.perf_counter() - started < seconds):
            optimizer.step(active)
            sync(optimizer.x[0, 0, 0])
            steps += 1
        elapsed = time.perf_counter() - started
        return StepRate(side=side, batch=batch, frame_shape=tuple(int(d) for d in x0.shape[1:3]), steps=steps,
                        seconds=round(elapsed, 4), evaluations_per_step=round(calls[0] / steps, 3))

    def network_seconds(self, side: int, batch: int, repeats: int = 3) -> float:
        """The fastest of `repeats` forward + input-gradient passes of the network alone."""
        if self._network is None:
            self._network = network_gradient(self.extractor.model)
        _, x = self.start(side, batch)
        sync(self._network(x)[0, 0, 0])
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            sync(self._network(x)[0, 0, 0])
            best = min(best, time.perf_counter() - started)
        return best


def estimate_seconds(config: Config, frame_shape: tuple[int, int], frames: int, rates: list[StepRate]) -> float:
    """The time of `frames` frames of `frame_shape` running all their iterations, from
    the measured rates: the rate of the nearest measured frame size, scaled by pixels
    (a step's time is close to proportional to frames x pixels; README, Performance),
    coarse-to-fine scales counted at their own size."""
    opt = config.optimizer
    coarse = opt.scales[:-1]
    coarse_total = int(round(opt.iterations * opt.coarse_fraction)) if coarse else 0
    stages = [(coarse_total / len(coarse), scale) for scale in coarse] + [(opt.iterations - coarse_total, 1.0)]
    seconds = 0.0
    for iterations, scale in stages:
        pixels = max(16, frame_shape[0] * scale) * max(16, frame_shape[1] * scale)
        nearest = min(rates, key=lambda r: abs(np.log(pixels / (r.frame_shape[0] * r.frame_shape[1]))))
        rate = nearest.frame_iterations_per_second * nearest.frame_shape[0] * nearest.frame_shape[1] / pixels
        seconds += frames * iterations / rate
    return seconds
