"""The coupling between neighbouring in-betweens (sweep/neighbours.py) and the grouped
L-BFGS that optimises a group of coupled frames as one vector."""
import numpy as np
import pytest
from keras import ops

from sweep.config import OptimizerSection
from sweep.neighbours import NeighbourCoupling
from sweep.optimizers import make_optimizer

SHAPE = (4, 3, 3)
RNG = np.random.default_rng(7)
IMAGES = {n: RNG.uniform(size=SHAPE).astype(np.float32) for n in range(12)}


def no_loss(x):
    zeros = ops.zeros((int(ops.shape(x)[0]),))
    return zeros, zeros, zeros, zeros, ops.zeros_like(x)


def coupling_of(indices, strength=7.0):
    starts = np.stack([IMAGES[i] + 0.1 for i in indices]).astype(np.float32)
    return NeighbourCoupling(indices, lambda n: IMAGES[n], ops.convert_to_tensor(starts), strength)


def joint_value(coupling, rows, x):
    """The joint objective: each group's total counted once."""
    totals = np.asarray(coupling.evaluator(no_loss, rows)(ops.convert_to_tensor(x.astype(np.float32)))[0],
                        dtype=np.float64)
    groups = coupling.groups[rows]
    return sum(totals[np.flatnonzero(groups == group)[0]] for group in np.unique(groups))


def test_consecutive_frames_of_a_chunk_form_a_group():
    assert list(coupling_of([3, 4, 5, 8, 9]).groups) == [1, 1, 1, 2, 2]
    assert len(set(coupling_of([2, 4, 6]).groups)) == 3


@pytest.mark.parametrize("rows", [[0, 1, 2, 3, 4], [0, 1, 2], [3, 4]])
def test_the_gradient_is_the_joint_objectives(rows):
    """Central differences of the joint objective, for the whole chunk and for the batches
    left after whole groups stopped."""
    coupling, rows = coupling_of([3, 4, 5, 8, 9]), np.array(rows)
    x = RNG.uniform(size=(len(rows), *SHAPE))
    gradient = np.asarray(coupling.evaluator(no_loss, rows)(ops.convert_to_tensor(x.astype(np.float32)))[4])
    numeric = np.zeros_like(x)
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = 1e-3
        step = step.reshape(x.shape)
        numeric.flat[k] = (joint_value(coupling, rows, x + step) - joint_value(coupling, rows, x - step)) / 2e-3
    np.testing.assert_allclose(gradient, numeric, atol=3e-3 * np.abs(numeric).max())


def test_each_scale_holds_the_neighbours_from_their_full_size_images():
    """Coarse to fine: back at full size, a held keyframe is the stored one, not the
    blurred image of its way through the coarse scale."""
    coupling = coupling_of([3, 4])
    full = np.asarray(coupling.fixed)
    coupling.resize(lambda images: ops.image.resize(images, (2, 2)))
    assert tuple(coupling.fixed.shape[1:3]) == (2, 2)
    coupling.resize(lambda images: images)
    assert np.array_equal(np.asarray(coupling.fixed), full)


def test_a_straight_fade_between_fixed_neighbours_costs_nothing():
    """Frames 3, 4, 5 on the straight line from frame 2 to frame 6 (both held): every
    second difference is 0, whatever the strength; a frame off the line pays."""
    indices = [3, 4, 5]
    fade = np.stack([IMAGES[2] + (IMAGES[6] - IMAGES[2]) * (i - 2) / 4 for i in indices])
    coupling = coupling_of(indices, strength=1000.0)
    assert joint_value(coupling, np.arange(3), fade) == pytest.approx(0.0, abs=1e-6)
    fade[1] += 0.1
    assert joint_value(coupling, np.arange(3), fade) > 1.0


def test_grouped_lbfgs_reaches_the_joint_optimum():
    """Two frames pulled towards different targets and towards each other: the joint
    optimum lies between the targets, and the grouped L-BFGS finds it."""
    targets = ops.convert_to_tensor(np.stack([np.full(SHAPE, 0.2), np.full(SHAPE, 0.8)]).astype(np.float32))
    strength = 2.0

    def evaluate(x):
        own = ops.sum(ops.square(x - targets), axis=(1, 2, 3))
        gap = x[0] - x[1]
        penalty = strength * ops.sum(ops.square(gap))
        total = ops.sum(own) + penalty
        pull = ops.stack([gap, -gap])
        return ops.stack([total, total]), own, own, own, 2 * (x - targets) + 2 * strength * pull

    x0 = ops.convert_to_tensor(np.full((2, *SHAPE), 0.5, np.float32))
    optimizer = make_optimizer("lbfgs", evaluate, x0, OptimizerSection(), groups=np.array([0, 0]))
    for _ in range(30):
        optimizer.step(np.ones(2, dtype=bool))
    x = np.asarray(ops.convert_to_numpy(optimizer.x))
    # d/dx0: 2 (x0 - 0.2) + 2 s (x0 - x1) = 0, symmetric about 0.5: x0 = 0.5 - 0.3 / (1 + 2 s)
    np.testing.assert_allclose(x[0], 0.5 - 0.3 / (1 + 2 * strength), atol=1e-3)
    np.testing.assert_allclose(x[1], 0.5 + 0.3 / (1 + 2 * strength), atol=1e-3)
    assert optimizer.step_length[0] == optimizer.step_length[1]
