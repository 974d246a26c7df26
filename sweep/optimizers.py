"""Batched optimisers over a chunk of frames, in keras.ops.

Every frame of a chunk has its own content weight, its own optimiser state and its
own step size; frames only share the forward/backward pass. `evaluate(x)` returns
per-frame (totals, content, style, tv) and the gradient (see gradients.py).

Both optimisers guard against non-finite losses: a frame whose loss becomes NaN or
Inf goes back to its last good state and retries with a smaller step; if that
fails too, the frame is marked `failed` and frozen, and the others carry on.
A frame that can no longer decrease its loss is marked `stalled`: converged as far
as float32 allows.

L-BFGS can also treat frames as groups (`groups`, a group id per frame): when
neighbouring frames share one objective (sweep/neighbours.py), the frames of a group
are one vector to it. Every scalar of the method (the dot products, the step length,
the sufficient-decrease test on the group's total, which the objective returns for
each of its frames) is then the group's, so its frames move, stop and fail together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

# Armijo sufficient-decrease constant, and how many rejected trials in a row make an
# L-BFGS frame start again from a fresh history.
ARMIJO_C1 = 1e-4
MAX_BACKTRACKS = 6
# A rejected trial's next step length, as a fraction of the rejected one: the minimum
# of the quadratic through the loss, the slope and the rejected trial, kept in this range.
SHRINK_RANGE = (0.1, 0.5)
# The first L-BFGS step (and any step after a history reset) moves the most-changed
# pixel of a frame by this much, in [0, 1] pixel units.
INITIAL_STEP = 0.05
# L-BFGS's initial inverse Hessian is diagonal, 1 / (RMS gradient of each pixel), as
# in Adam: the RMS is averaged over steps with this rate, floored at this share of
# the frame's mean RMS, and the metric is scaled to a mean of 1 per frame. On the
# benchmark sweep it halves the iterations the high content weights need (docs/design.md,
# The optimiser); rates 0.7 to 0.9 and floors 0.01 to 0.1 do equally well.
METRIC_AVERAGING = 0.8
METRIC_FLOOR = 0.01


def per_frame_dot(a, b):
    return ops.sum(a * b, axis=(1, 2, 3))


def group_sum(per_frame, groups):
    """`per_frame` (B,) summed over each frame's group, the same float for every frame of
    a group (each group's sum is computed once), so they all take the same decisions.
    `groups` is (membership (G, B): 1 where frame b is in group g, group index (B,)).
    `where`, not a product, so a failed frame's NaN stays in its group."""
    membership, index = groups
    sums = ops.sum(ops.where(membership > 0, ops.expand_dims(per_frame, 0), ops.zeros_like(membership)), axis=1)
    return ops.take(sums, index, axis=0)


def group_tensors(groups: np.ndarray):
    """`group_sum`'s (membership, group index) for a group id per frame."""
    ids, index = np.unique(np.asarray(groups), return_inverse=True)
    membership = (ids[:, None] == np.asarray(groups)[None, :]).astype(np.float32)
    return ops.convert_to_tensor(membership), ops.convert_to_tensor(index.astype(np.int32))


def group_dot(a, b, groups):
    return group_sum(per_frame_dot(a, b), groups)


def _inside(x, direction):
    """`direction` without the components that push a pixel already at 0 or 1 out of
    the [0, 1] box (they would be clipped away and only distort the line search)."""
    outward = ops.logical_or(ops.logical_and(x <= 0.0, direction < 0.0),
                             ops.logical_and(x >= 1.0, direction > 0.0))
    return ops.where(outward, ops.zeros_like(direction), direction)


def _two_loop(grad, s_list, y_list, rhos, scale, metric, x, groups):
    """The L-BFGS two-loop recursion for every frame at once, with the initial inverse
    Hessian `scale * diag(metric)`; returns the direction (kept inside the box at `x`)
    and the slope g.d. One compiled call: no per-pair host round trips."""
    q = grad
    alphas = []
    for s, y, rho in zip(reversed(s_list), reversed(y_list), reversed(rhos)):
        alpha = rho * group_dot(s, q, groups)
        q = q - ops.reshape(alpha, (-1, 1, 1, 1)) * y
        alphas.append(alpha)
    r = ops.reshape(scale, (-1, 1, 1, 1)) * metric * q
    for s, y, rho, alpha in zip(s_list, y_list, rhos, reversed(alphas)):
        beta = rho * group_dot(y, r, groups)
        r = r + ops.reshape(alpha - beta, (-1, 1, 1, 1)) * s
    direction = _inside(x, -r)
    return direction, group_dot(grad, direction, groups)


def _box_trial(x, direction, step_length, grad, groups):
    """The trial point x + t d projected onto [0, 1], and g.(trial - x): the slope of
    the step actually taken, for the sufficient-decrease test."""
    trial = ops.clip(x + ops.reshape(step_length, (-1, 1, 1, 1)) * direction, 0.0, 1.0)
    return trial, group_dot(grad, trial - x, groups)


def _pair(trial, x, grad, old_grad, metric, groups):
    """s, y and their (group) products s.y and y.My (M the metric) in one compiled call."""
    s, y = trial - x, grad - old_grad
    return s, y, group_dot(s, y, groups), group_dot(y, metric * y, groups)


def _largest(grad):
    return ops.max(ops.abs(grad), axis=(1, 2, 3))


def _square_gradient(grad):
    """grad^2, 0 where the gradient is not finite (a failed frame must not poison the metric)."""
    return ops.where(ops.isfinite(grad), ops.square(grad), ops.zeros_like(grad))


def _update_metric(mean_square, grad):
    """The averaged squared gradient after one more step, and the metric it gives."""
    mean_square = METRIC_AVERAGING * mean_square + (1 - METRIC_AVERAGING) * _square_gradient(grad)
    rms = ops.sqrt(mean_square)
    floor = METRIC_FLOOR * ops.mean(rms, axis=(1, 2, 3), keepdims=True) + 1e-30
    metric = 1.0 / (rms + floor)
    return mean_square, metric / ops.mean(metric, axis=(1, 2, 3), keepdims=True)


_compiled: dict = {}


def _fn(name):
    """The compiled helper `name`, built on first use (so importing this module
    stays free of a backend's compile machinery)."""
    if name not in _compiled:
        from .gradients import compile_function
        _compiled[name] = compile_function({"two_loop": _two_loop, "pair": _pair, "largest": _largest,
                                            "update_metric": _update_metric, "box_trial": _box_trial,
                                            "inside": _inside}[name])
    return _compiled[name]


def broadcast(per_frame):
    """(B,) -> (B, 1, 1, 1), to scale whole frames."""
    return ops.reshape(ops.convert_to_tensor(per_frame, dtype="float32"), (-1, 1, 1, 1))


@dataclass
class Evaluation:
    """Per-frame losses as numpy arrays, shape (B,)."""
    total: np.ndarray
    content: np.ndarray
    style: np.ndarray
    tv: np.ndarray


def _evaluate(evaluate, x):
    total, content, style, tv, grad = evaluate(x)
    as_np = [np.asarray(ops.convert_to_numpy(v), dtype=np.float64) for v in (total, content, style, tv)]
    return Evaluation(*as_np), grad


def _take(tensor, rows):
    return ops.take(tensor, ops.convert_to_tensor(np.asarray(rows, dtype="int32")), axis=0)


def _select(mask, new, old):
    """Per-frame choice between two (B, ...) tensors."""
    return ops.where(broadcast(mask.astype("float32")) > 0, new, old)


class BatchedAdam:
    def __init__(self, evaluate, x0, *, learning_rate: float, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8):
        self.evaluate = evaluate
        self.x = x0
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        batch = int(ops.shape(x0)[0])
        self.learning_rates = np.full(batch, learning_rate, dtype=np.float32)
        self.m = ops.zeros_like(x0)
        self.v = ops.zeros_like(x0)
        self.t = 0
        self.failed = np.zeros(batch, dtype=bool)
        self.stalled = np.zeros(batch, dtype=bool)
        self.retried = np.zeros(batch, dtype=bool)
        self.last_good = x0
        self.moved = np.zeros(batch, dtype=bool)

    def step(self, active: np.ndarray) -> Evaluation:
        """One update of the active frames; returns the losses before the update."""
        values, grad = _evaluate(self.evaluate, self.x)
        bad = ~np.isfinite(values.total) & active & ~self.failed
        if bad.any():
            self._recover(bad)
            active = active & ~bad
        good = active & np.isfinite(values.total)
        self.last_good = _select(good, self.x, self.last_good)
        grad = ops.where(ops.isfinite(grad), grad, ops.zeros_like(grad))
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * ops.square(grad)
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        step_sizes = broadcast(self.learning_rates * active)
        update = step_sizes * m_hat / (ops.sqrt(v_hat) + self.epsilon)
        self.x = ops.clip(self.x - update, 0.0, 1.0)
        self.moved = active
        return values

    def keep(self, rows, evaluate) -> None:
        """Go on with only these frames (indices into the current batch); `evaluate`
        is the objective of that smaller batch. Frozen frames then cost nothing."""
        self.evaluate = evaluate
        self.x, self.m, self.v, self.last_good = (_take(t, rows) for t in (self.x, self.m, self.v, self.last_good))
        self.learning_rates, self.failed, self.stalled, self.retried, self.moved = (
            a[rows] for a in (self.learning_rates, self.failed, self.stalled, self.retried, self.moved))

    def _recover(self, bad: np.ndarray) -> None:
        retry = bad & ~self.retried
        self.failed |= bad & self.retried
        self.retried |= retry
        self.learning_rates = np.where(retry, self.learning_rates * 0.1, self.learning_rates).astype(np.float32)
        self.x = _select(bad, self.last_good, self.x)
        self.m = _select(bad, ops.zeros_like(self.m), self.m)
        self.v = _select(bad, ops.zeros_like(self.v), self.v)


class BatchedLBFGS:
    """L-BFGS in the [0, 1] pixel box, with a separate (s, y) history and a
    backtracking line search per frame.

    Frames stay inside [0, 1], as stored frames must: a trial is projected onto the
    box, a direction does not push a pixel that is already at a bound further out,
    and the sufficient-decrease test uses the step actually taken. Unconstrained,
    the optimum has pixels outside [0, 1], and clipping it for storage cost up to 14%
    of the loss at content weight 100.

    Every batched evaluation is one line-search trial for every frame: a frame whose
    trial passes the Armijo test moves there and takes a new direction; a frame whose
    trial fails stays where it is and tries a shorter step along the same direction
    at the next evaluation. So one frame's backtracking never makes the whole batch
    evaluate again: each `step` costs exactly one evaluation of the batch. A pair
    that breaks the curvature condition (s.y <= 0) is dropped for that frame only,
    by giving it rho = 0. The initial inverse Hessian is `gamma * diag(metric)`, the
    metric an Adam-like per-pixel 1 / RMS gradient (see METRIC_AVERAGING).
    """

    def __init__(self, evaluate, x0, *, history: int, groups: np.ndarray | None = None):
        self.evaluate = evaluate
        self.history = history
        self.x = x0
        self.values, self.grad = _evaluate(evaluate, x0)
        batch = len(self.values.total)
        self._set_groups(np.arange(batch) if groups is None else np.asarray(groups))
        self.pairs: list[tuple] = []  # (s, y, rho) with rho a (B,) numpy array
        self.gamma = np.zeros(batch, dtype=np.float32)  # 0: no curvature known yet
        self.failed = ~np.isfinite(self.values.total)
        self.stalled = np.zeros(batch, dtype=bool)
        self.retried = np.zeros(batch, dtype=bool)
        # The line search in progress: a frame with step < 1 retries along `direction`.
        self.step_length = np.ones(batch, dtype=np.float32)
        self.rejections = np.zeros(batch, dtype=int)
        self.direction = ops.zeros_like(x0)
        self.moved = np.zeros(batch, dtype=bool)
        self.mean_square, self.metric = _fn("update_metric")(_square_gradient(self.grad), self.grad)

    def step(self, active: np.ndarray) -> Evaluation:
        """One trial for every active frame; returns every frame's current losses
        (a frame whose trial was rejected keeps its previous ones; see `moved`)."""
        active = active & ~self.failed & ~self.stalled
        searching = self.step_length < 1
        direction, slope = self._direction()
        not_descent = (slope >= 0) & ~searching
        if not_descent.any():  # a stale history: restart those frames along -grad
            fresh = self._fresh_scale()
            self._reset(not_descent)
            fresh_direction = _fn("inside")(self.x, -self.metric * self.grad * broadcast(fresh))
            direction = _select(not_descent, fresh_direction, direction)
        direction = _select(searching, self.direction, direction)
        t = np.where(active, self.step_length, 0.0).astype(np.float32)
        trial, taken_slope = _fn("box_trial")(self.x, direction, ops.convert_to_tensor(t), self.grad,
                                              self.group_tensors)
        taken_slope = np.asarray(ops.convert_to_numpy(taken_slope), dtype=np.float64)
        values, grad = _evaluate(self.evaluate, trial)
        finite = np.isfinite(values.total)
        accepted = active & finite & (values.total <= self.values.total + ARMIJO_C1 * taken_slope)
        rejected = active & ~accepted
        # Rejected frames stay: their pair is (0, 0), and a NaN trial never reaches the history.
        x, grad = _select(accepted, trial, self.x), _select(accepted, grad, self.grad)
        self._remember(*_fn("pair")(x, self.x, grad, self.grad, self.metric, self.group_tensors), moved=accepted)
        self.x, self.grad = x, grad
        self.mean_square, self.metric = _fn("update_metric")(self.mean_square, self.grad)
        self.values = Evaluation(*(np.where(accepted, new, old) for old, new in
                                   zip(vars(self.values).values(), vars(values).values())))
        self.retried &= ~accepted
        self.rejections = np.where(rejected, self.rejections + 1, 0)
        self.step_length = np.where(rejected, self._shorter(t, taken_slope, values.total), 1.0).astype(np.float32)
        self.direction = direction
        self.moved = accepted
        broken = rejected & ~finite
        # A NaN/Inf trial: retry once from the last good state (where the frame still
        # is) with a fresh history; a second one in a row fails the frame.
        self.failed |= broken & self.retried
        self._give_up((broken & ~self.failed) | (rejected & finite & (self.rejections > MAX_BACKTRACKS)))
        return self.values

    def _shorter(self, t, taken_slope, trial_total) -> np.ndarray:
        """The step to try after a rejected trial of length `t` whose (projected)
        step had the slope `taken_slope`."""
        low, high = SHRINK_RANGE
        with np.errstate(all="ignore"):
            t_safe = np.maximum(t, 1e-30)
            curvature = (trial_total - self.values.total - taken_slope) / t_safe ** 2
            minimum = -taken_slope / t_safe / (2 * curvature)
        minimum = np.where(np.isfinite(minimum) & (curvature > 0), minimum, low * t)
        return np.clip(minimum, low * t, high * t)

    def keep(self, rows, evaluate) -> None:
        """Go on with only these frames (indices into the current batch), each with
        its own history; `evaluate` is the objective of that smaller batch."""
        self.evaluate = evaluate
        self.x, self.grad = _take(self.x, rows), _take(self.grad, rows)
        self.values = Evaluation(*(getattr(self.values, k)[rows] for k in ("total", "content", "style", "tv")))
        self.pairs = [(_take(s, rows), _take(y, rows), rho[rows]) for s, y, rho in self.pairs]
        self._set_groups(self.groups[rows])
        self.gamma, self.failed, self.stalled, self.retried = (
            a[rows] for a in (self.gamma, self.failed, self.stalled, self.retried))
        self.step_length, self.rejections, self.moved = (
            a[rows] for a in (self.step_length, self.rejections, self.moved))
        self.direction, self.mean_square, self.metric = (
            _take(t, rows) for t in (self.direction, self.mean_square, self.metric))

    def _fresh_scale(self) -> np.ndarray:
        """The scale that makes a fresh step (along -metric * grad) move the most-changed
        pixel by INITIAL_STEP."""
        largest = np.asarray(ops.convert_to_numpy(_fn("largest")(self.metric * self.grad)), dtype=np.float32)
        largest = np.array([largest[self.groups == group].max() for group in self.groups], dtype=np.float32)
        return INITIAL_STEP / np.maximum(largest, 1e-12)

    def _set_groups(self, groups: np.ndarray) -> None:
        """The frames' group ids and their tensors for the compiled helpers, made once per
        batch (here and in `keep`), not at every step."""
        self.groups, self.group_tensors = groups, group_tensors(groups)

    def _direction(self):
        fresh = self._fresh_scale() if (self.gamma <= 0).any() else np.zeros_like(self.gamma)
        scale = np.where(self.gamma > 0, self.gamma, fresh).astype(np.float32)
        # Always `history` pairs, the missing oldest ones as zeros with rho = 0 (they then
        # add exactly nothing), so the compiled recursion is traced once, not per length.
        missing = self.history - len(self.pairs)
        zeros = ops.zeros_like(self.grad) if missing else None
        no_rho = np.zeros(len(self.gamma), dtype=np.float32)
        pairs = [(zeros, zeros, no_rho)] * missing + self.pairs
        direction, slope = _fn("two_loop")(
            self.grad, tuple(s for s, _, _ in pairs), tuple(y for _, y, _ in pairs),
            tuple(ops.convert_to_tensor(rho, dtype="float32") for _, _, rho in pairs),
            ops.convert_to_tensor(scale), self.metric, self.x, self.group_tensors)
        return direction, np.asarray(ops.convert_to_numpy(slope), dtype=np.float64)

    def _remember(self, s, y, sy, yy, moved: np.ndarray) -> None:
        sy = np.asarray(ops.convert_to_numpy(sy), dtype=np.float64)
        yy = np.asarray(ops.convert_to_numpy(yy), dtype=np.float64)
        valid = moved & np.isfinite(sy) & (sy > 1e-10 * np.maximum(yy, 1e-30))
        rho = np.where(valid, 1.0 / np.where(valid, sy, 1.0), 0.0).astype(np.float32)
        self.gamma = np.where(valid, sy / np.where(valid, yy, 1.0), self.gamma).astype(np.float32)
        self.pairs.append((s, y, rho))
        if len(self.pairs) > self.history:
            self.pairs.pop(0)

    def _reset(self, frames: np.ndarray) -> None:
        keep = (~frames).astype(np.float32)
        self.pairs = [(s, y, rho * keep) for s, y, rho in self.pairs]
        self.gamma = np.where(frames, 0.0, self.gamma).astype(np.float32)

    def _give_up(self, frames: np.ndarray) -> None:
        """No acceptable step: retry once from a fresh history, then call it stalled.

        The frame's current state is its last good one (a rejected trial is never
        taken), so a stalled frame keeps a finite loss.
        """
        self.stalled |= frames & self.retried & ~self.failed
        self.retried |= frames
        self.rejections = np.where(frames, 0, self.rejections)
        self.step_length = np.where(frames, 1.0, self.step_length).astype(np.float32)
        self._reset(frames)


def make_optimizer(name: str, evaluate, x0, optimizer_cfg, groups: np.ndarray | None = None):
    """`groups` (L-BFGS): a group id per frame, see the module's docstring. Adam needs
    none: it has no line search, and each pixel follows the joint objective's gradient."""
    if name == "adam":
        return BatchedAdam(evaluate, x0, learning_rate=optimizer_cfg.learning_rate)
    if name == "lbfgs":
        return BatchedLBFGS(evaluate, x0, history=optimizer_cfg.history, groups=groups)
    raise ValueError(f"unknown optimizer {name!r}; use lbfgs or adam")
