"""The one backend-specific piece: value and input-gradient of the objective.

`make_objective(extractor)` returns `evaluate(images01, content_weights,
style_weight, tv_weight, target_args)` -> (per-frame totals, content, style, tv,
gradient w.r.t. the images). Every setting is a tensor argument, so a compiled
step is traced once per shape and serves every content weight and every artist.
Everything else in `sweep` uses keras.ops only.
"""
from __future__ import annotations

import keras
from keras import ops

from .losses import frame_losses, weighted_total
from .model import FeatureExtractor, preprocess


def make_objective(extractor: FeatureExtractor):
    n_content = len(extractor.content_layers)

    def losses(outputs, images01, content_weights, style_weight, tv_weight, target_args):
        content, style, tv = frame_losses(outputs, images01, n_content, target_args)
        totals = weighted_total(content, style, tv, content_weights, style_weight, tv_weight)
        return ops.sum(totals), (totals, content, style, tv)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(extractor.model, losses)
    if backend == "jax":
        return _jax(extractor.model, losses)
    if backend == "torch":
        return _torch(extractor.model, losses)
    raise RuntimeError(f"unsupported Keras backend {backend!r}; use tensorflow, jax or torch")


def _tensorflow(model, losses):
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def evaluate(images01, content_weights, style_weight, tv_weight, target_args):
        # Only the images are watched: the frozen weights need no gradient.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images01)
            outputs = model(preprocess(images01), training=False)
            total, aux = losses(outputs, images01, content_weights, style_weight, tv_weight, target_args)
        return (*aux, tape.gradient(total, images01))

    return evaluate


def _jax(model, losses):
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def objective(images01, weights, content_weights, style_weight, tv_weight, target_args):
        outputs, _ = model.stateless_call(weights[0], weights[1], preprocess(images01), training=False)
        return losses(outputs, images01, content_weights, style_weight, tv_weight, target_args)

    value_and_grad = jax.jit(jax.value_and_grad(objective, has_aux=True))

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
            outputs = model(preprocess(images01), training=False)
            total, aux = losses(outputs, images01, content_weights, style_weight, tv_weight, target_args)
            (grad,) = torch.autograd.grad(total, images01)
        return (*(a.detach() for a in aux), grad)

    return evaluate


def compile_function(fn):
    """`fn` (keras.ops on tensors, nested tuples allowed) compiled for the backend:
    tf.function, jax.jit, or as is under torch. Traced once per argument structure."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return tf.function(fn, reduce_retracing=True)
    if backend == "jax":
        import jax
        return jax.jit(fn)
    return fn
