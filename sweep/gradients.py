"""The one backend-specific piece: value and input-gradient of the objective.

`make_objective(extractor)` returns `evaluate(images01, content_weights,
style_weight, tv_weight, target_args)` -> (per-frame totals, content, style, tv,
gradient w.r.t. the images). The network sees `losses.seen_by_network` of the
images (the artist's colour projection). Every setting is a tensor argument, so a compiled
step is traced once per shape and serves every content weight and every artist.
Everything else in `sweep` uses keras.ops only.
"""
from __future__ import annotations

from pathlib import Path

import keras
from keras import ops

from .backend import backend_name
from .compiles import traced
from .losses import frame_losses, seen_by_network, weighted_total
from .model import FeatureExtractor, preprocess


def make_objective(extractor: FeatureExtractor):
    n_content, n_detail = len(extractor.content_layers), extractor.n_detail

    def losses(outputs, images01, content_weights, style_weight, tv_weight, target_args):
        content, style, tv = frame_losses(outputs, images01, n_content, target_args, content_weights, n_detail)
        totals = weighted_total(content, style, tv, content_weights, style_weight, tv_weight)
        return ops.sum(totals), (totals, content, style, tv)

    return value_and_input_gradient(extractor, losses)


def value_and_input_gradient(extractor: FeatureExtractor, losses):
    """`evaluate(images01, content_weights, style_weight, tv_weight, target_args)` ->
    (*aux, gradient of the scalar w.r.t. the images), where `losses(outputs, images01,
    content_weights, style_weight, tv_weight, target_args)` returns (scalar, aux) from
    the extractor's outputs. sweep/tiled.py uses it for the windows of a tiled frame."""
    backend = backend_name()
    if backend == "tensorflow":
        return _tensorflow(extractor.model, losses)
    if backend == "jax":
        return _jax(extractor.model, losses)
    if backend == "torch":
        return _torch(extractor.model, losses)
    raise RuntimeError(f"unsupported Keras backend {backend!r}; use tensorflow, jax or torch")


def _tensorflow(model, losses):
    import tensorflow as tf

    def evaluate(images01, content_weights, style_weight, tv_weight, target_args):
        # Only the images are watched: the frozen weights need no gradient.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images01)
            seen = seen_by_network(images01, target_args)
            outputs = model(preprocess(seen), training=False)
            total, aux = losses(outputs, seen, content_weights, style_weight, tv_weight, target_args)
        return (*aux, tape.gradient(total, images01))

    # One static graph per batch size (the engine uses powers of two): a relaxed
    # [None, ...] graph computes differently, so with reduce_retracing a frame's pixels
    # would depend on which batch sizes ran before it, and a resumed run (that skips
    # the keyframes) would not match a clean one bit for bit.
    return tf.function(traced("objective", evaluate), reduce_retracing=False)


def _jax(model, losses):
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def objective(images01, weights, content_weights, style_weight, tv_weight, target_args):
        seen = seen_by_network(images01, target_args)
        outputs, _ = model.stateless_call(weights[0], weights[1], preprocess(seen), training=False)
        return losses(outputs, seen, content_weights, style_weight, tv_weight, target_args)

    value_and_grad = jax.jit(jax.value_and_grad(traced("objective", objective), has_aux=True))

    def evaluate(images01, content_weights, style_weight, tv_weight, target_args):
        (_, aux), grad = value_and_grad(images01, (trainable, non_trainable), content_weights,
                                        style_weight, tv_weight, target_args)
        return (*aux, grad)

    return evaluate


def _torch(model, losses):
    import torch

    def evaluate(images01, content_weights, style_weight, tv_weight, target_args):
        with torch.enable_grad():
            images01 = images01.detach().requires_grad_(True)
            seen = seen_by_network(images01, target_args)
            outputs = model(preprocess(seen), training=False)
            total, aux = losses(outputs, seen, content_weights, style_weight, tv_weight, target_args)
            (grad,) = torch.autograd.grad(total, images01)
        return (*(a.detach() for a in aux), grad)

    return evaluate


# XLA compilations shorter than this are not kept on disk. What is kept: the objective
# (about 1 s per batch shape on a 2-core CPU) and the model's weight initialisers (8 of
# 0.1-0.4 s), about 100 KB each; the optimiser's small helpers compile faster than this.
JAX_CACHE_MIN_COMPILE_SECONDS = 0.1


def enable_compilation_cache() -> Path | None:
    """Under JAX, keep XLA's compiled programs in `$KERAS_HOME/sweep/jax_cache`, so that a
    later run with the same frame shapes (a re-render, another artist, a Ray worker on the
    same machine) loads them instead of compiling again. A cache directory the user set
    for JAX (`JAX_COMPILATION_CACHE_DIR`) is kept. Returns the directory in use, None
    under the other backends or where no directory can be created."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    from .paths import keras_home

    directory = keras_home() / "sweep" / "jax_cache"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", JAX_CACHE_MIN_COMPILE_SECONDS)
    return directory


def compile_function(fn):
    """`fn` (keras.ops on tensors, nested tuples allowed) compiled for the backend:
    tf.function, jax.jit, or as is under torch. Traced once per argument structure;
    the traces are counted under `fn`'s name (sweep/compiles.py)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return tf.function(traced(fn.__name__.lstrip("_"), fn), reduce_retracing=False)
    if backend == "jax":
        import jax
        return jax.jit(traced(fn.__name__.lstrip("_"), fn))
    return fn


def network_gradient(model):
    """The input gradient of the sum of `model`'s outputs (preprocessed images in, no
    loss): forward and backward of the network alone, what no loss code can beat. The
    benchmarks time it as the ceiling of an optimisation step (sweep/microbench.py)."""
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        def gradient(images01):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(images01)
                total = tf.add_n([tf.reduce_sum(o) for o in model(preprocess(images01), training=False)])
            return tape.gradient(total, images01)
        return tf.function(traced("network_gradient", gradient), reduce_retracing=True)
    if backend == "jax":
        import jax
        weights = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])

        def total(images01, weights):
            outputs, _ = model.stateless_call(weights[0], weights[1], preprocess(images01), training=False)
            return sum(ops.sum(o) for o in outputs)
        compiled = jax.jit(jax.grad(traced("network_gradient", total)))
        return lambda images01: compiled(images01, weights)
    import torch

    def gradient(images01):
        with torch.enable_grad():
            images01 = images01.detach().requires_grad_(True)
            total = sum(o.sum() for o in model(preprocess(images01), training=False))
            (grad,) = torch.autograd.grad(total, images01)
        return grad
    return gradient
