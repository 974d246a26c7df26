"""The batched optimisers on a problem with a known answer: per-frame quadratics."""
import numpy as np
import pytest
from keras import ops

from sweep.config import OptimizerSection
from sweep.optimizers import make_optimizer

TARGET = np.random.default_rng(0).uniform(0.2, 0.8, (1, 6, 5, 3)).astype(np.float32)


def quadratic(curvatures):
    """Frame b minimises curvatures[b] * ||x - TARGET||^2 + ||x - 0.5||^2 / 10: frames differ
    in conditioning, as sweep frames differ in content weight."""
    a = ops.convert_to_tensor(np.asarray(curvatures, np.float32).reshape(-1, 1, 1, 1))
    target = ops.convert_to_tensor(TARGET)

    def evaluate(x):
        content = ops.sum(ops.square(x - target), axis=(1, 2, 3))
        style = ops.sum(ops.square(x - 0.5), axis=(1, 2, 3)) / 10
        total = ops.reshape(a, (-1,)) * content + style
        grad = 2 * a * (x - target) + 2 * (x - 0.5) / 10
        return total, content, style, ops.zeros_like(total), grad

    return evaluate


def optimum(curvature):
    return (curvature * TARGET + 0.05) / (curvature + 0.1)


@pytest.mark.parametrize("name, iterations, learning_rate", [("lbfgs", 30, 0.02), ("adam", 400, 0.01)])
def test_every_frame_reaches_its_own_optimum(name, iterations, learning_rate):
    curvatures = [100.0, 1.0, 0.1]
    cfg = OptimizerSection(name=name, learning_rate=learning_rate)
    x0 = ops.convert_to_tensor(np.full((3, 6, 5, 3), 0.5, np.float32))
    optimizer = make_optimizer(name, quadratic(curvatures), x0, cfg)
    active = np.ones(3, dtype=bool)
    for _ in range(iterations):
        optimizer.step(active)
    x = np.asarray(ops.convert_to_numpy(optimizer.x))
    for b, curvature in enumerate(curvatures):
        np.testing.assert_allclose(x[b], optimum(curvature)[0], atol=2e-3)
    assert not optimizer.failed.any()


def test_lbfgs_frozen_frames_do_not_move():
    cfg = OptimizerSection()
    x0 = ops.convert_to_tensor(np.full((2, 6, 5, 3), 0.5, np.float32))
    optimizer = make_optimizer("lbfgs", quadratic([1.0, 1.0]), x0, cfg)
    for _ in range(5):
        optimizer.step(np.array([True, False]))
    x = np.asarray(ops.convert_to_numpy(optimizer.x))
    assert np.all(x[1] == 0.5)
    assert np.abs(x[0] - 0.5).max() > 0.01


def test_lbfgs_costs_one_evaluation_per_step_and_a_rejected_trial_stays_put():
    """A frame whose trial fails the Armijo test keeps its state and retries a shorter
    step at the next evaluation, while the other frames go on exactly as they would
    have: one batched evaluation per step, whatever any frame's line search does."""

    def run(tamper: bool):
        evaluations = [0]
        base = quadratic([1.0, 3.0])

        def evaluate(x):
            evaluations[0] += 1
            return base(x)

        x0 = ops.convert_to_tensor(np.full((2, 6, 5, 3), 0.5, np.float32))
        optimizer = make_optimizer("lbfgs", evaluate, x0, OptimizerSection())
        active = np.ones(2, dtype=bool)
        optimizer.step(active)
        if tamper:  # frame 1 is sent a thousand times too far: its trial must be rejected
            optimizer.step_length[1] = 1000.0
        before = np.asarray(ops.convert_to_numpy(optimizer.x))[1]
        evaluations[0] = 0
        trajectory = []
        for _ in range(8):
            optimizer.step(active)
            trajectory.append(np.asarray(ops.convert_to_numpy(optimizer.x))[0])
            if tamper and evaluations[0] == 1:
                assert not optimizer.moved[1]
                assert np.array_equal(np.asarray(ops.convert_to_numpy(optimizer.x))[1], before)
                assert 100.0 <= optimizer.step_length[1] <= 500.0  # within SHRINK_RANGE of 1000
        assert evaluations[0] == 8
        return trajectory, optimizer

    clean, _ = run(tamper=False)
    tampered, optimizer = run(tamper=True)
    assert all(np.array_equal(a, b) for a, b in zip(clean, tampered))
    assert optimizer.rejections[1] == 0 and not optimizer.stalled.any()  # frame 1 found a step again


def test_lbfgs_stays_in_the_pixel_box_and_finds_the_constrained_optimum():
    """A frame whose unconstrained optimum lies outside [0, 1] (as at high content
    weights, where the photo's extremes pull beyond the range) ends at the clipped
    optimum and never leaves the box on the way: what is optimised is what is stored."""
    target = np.where(TARGET > 0.5, 1.4, -0.3).astype(np.float32)  # every pixel's optimum is out of range
    goal = ops.convert_to_tensor(target)

    def evaluate(x):
        total = ops.sum(ops.square(x - goal), axis=(1, 2, 3))
        zero = ops.zeros_like(total)
        return total, total, zero, zero, 2 * (x - goal)

    x0 = ops.convert_to_tensor(np.full((2, 6, 5, 3), 0.5, np.float32))
    optimizer = make_optimizer("lbfgs", evaluate, x0, OptimizerSection())
    for _ in range(25):
        optimizer.step(np.ones(2, dtype=bool))
        x = np.asarray(ops.convert_to_numpy(optimizer.x))
        assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x[0], np.clip(target, 0, 1)[0], atol=1e-3)
