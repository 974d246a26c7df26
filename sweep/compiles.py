"""Counting compilations: how often a compiled function was traced, and for which shapes.

Under JAX (`jax.jit`) and TensorFlow (`tf.function`) the Python body of a compiled
function runs only while it is being traced, once per new argument signature (shape,
dtype, structure), and every trace is a compile (JAX's on-disk cache can make that
compile a cheap load, but the trace still happens). So a counter called from inside
the body counts compilations exactly, at no cost per call. Under torch nothing is
compiled and nothing is counted.

A run must compile each of its functions at most once per distinct (batch size,
frame size): early stopping cuts the batch to powers of two and coarse-to-fine adds
frame sizes, but a chunk or an iteration must never bring a new compile
(tests/test_compiles.py checks this under JAX).
"""
from __future__ import annotations

import collections
import functools
import threading
from typing import Any, Callable

Signature = tuple  # the shapes of a call's tensor arguments, in order

_lock = threading.Lock()
_traces: collections.Counter = collections.Counter()  # (function name, signature) -> traces


def traced(name: str, fn: Callable) -> Callable:
    """`fn`, noting a trace of `name` with its arguments' shapes each time its body runs.
    Wrap the Python function *before* handing it to jax.jit or tf.function."""
    @functools.wraps(fn)
    def counting(*args, **kwargs):
        signature = shapes(args)
        with _lock:
            _traces[(name, signature)] += 1
        return fn(*args, **kwargs)
    return counting


def shapes(value: Any) -> Signature:
    """The shapes of every tensor in a nested tuple/list/dict, in order (a scalar: ())."""
    if isinstance(value, (tuple, list)):
        return tuple(leaf for item in value for leaf in shapes(item))
    if isinstance(value, dict):
        return tuple(leaf for key in sorted(value) for leaf in shapes(value[key]))
    shape = getattr(value, "shape", None)
    if shape is None:
        return ((),)
    return (tuple(None if d is None else int(d) for d in shape),)


def snapshot() -> collections.Counter:
    """Every trace so far in this process; `since(snapshot())` gives a run's own."""
    with _lock:
        return collections.Counter(_traces)


def since(before: collections.Counter) -> "Compilations":
    with _lock:
        now = collections.Counter(_traces)
    now.subtract(before)
    return Compilations({key: count for key, count in now.items() if count > 0})


class Compilations(dict):
    """{(function name, signature): traces} of one run."""

    @property
    def total(self) -> int:
        return sum(self.values())

    def by_function(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (name, _), count in self.items():
            counts[name] = counts.get(name, 0) + count
        return dict(sorted(counts.items()))

    def repeated(self) -> list[tuple[str, Signature]]:
        """Signatures traced more than once: a compile that a cache should have saved."""
        return [key for key, count in self.items() if count > 1]

    def summary(self) -> dict[str, Any]:
        """Plain data for JSON: the total, per function, and the objective's batch shapes."""
        objective = sorted({signature[0] for (name, signature) in self if name == "objective"},
                           key=lambda shape: tuple(-1 if d is None else d for d in shape))
        return {"total": self.total, "by_function": self.by_function(),
                "objective_image_shapes": [list(shape) for shape in objective],
                "repeated": [f"{name} {list(signature[0]) if signature else []}"
                             for name, signature in self.repeated()]}
