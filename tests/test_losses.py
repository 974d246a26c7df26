"""Preprocessing and losses on known inputs (no network weights involved)."""
import numpy as np
import pytest
from keras import ops

from sweep.losses import EPSILON, SMOOTHEST_PHOTO, content_loss, gram, style_loss, total_variation, tv_norm
from sweep.model import CAFFE_MEAN_BGR, deprocess, preprocess


def as_np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_preprocess_is_caffe_bgr_mean_centred():
    red = np.zeros((1, 1, 1, 3), np.float32)
    red[..., 0] = 1.0
    out = as_np(preprocess(ops.convert_to_tensor(red)))[0, 0, 0]
    np.testing.assert_allclose(out, [-CAFFE_MEAN_BGR[0], -CAFFE_MEAN_BGR[1], 255 - CAFFE_MEAN_BGR[2]], rtol=1e-6)


def test_preprocess_deprocess_round_trip():
    images = np.random.default_rng(0).uniform(0, 1, (2, 5, 7, 3)).astype(np.float32)
    back = as_np(deprocess(preprocess(ops.convert_to_tensor(images))))
    np.testing.assert_allclose(back, images, atol=1e-5)


def test_gram_divides_by_positions():
    features = ops.convert_to_tensor(np.array([[[[1, 2]], [[3, 4]]]], np.float32))  # (1, 2, 1, 2)
    np.testing.assert_allclose(as_np(gram(features))[0], [[5, 7], [7, 10]])


def test_gram_does_not_depend_on_image_size():
    tile = np.random.default_rng(1).normal(size=(1, 4, 4, 3)).astype(np.float32)
    tiled = np.tile(tile, (1, 3, 2, 1))
    np.testing.assert_allclose(as_np(gram(ops.convert_to_tensor(tile))),
                               as_np(gram(ops.convert_to_tensor(tiled))), rtol=1e-5)


def test_content_loss_is_relative_squared_error():
    target = np.full((1, 2, 2, 1), 2.0, np.float32)
    frames = np.stack([target[0], target[0] * 0, target[0] * 2])  # equal, zero, double
    norm = float(np.mean(target ** 2))
    values = as_np(content_loss(ops.convert_to_tensor(frames), ops.convert_to_tensor(target), norm))
    np.testing.assert_allclose(values, [0.0, 1.0, 1.0])


def test_style_loss_is_relative_gram_error():
    features = np.random.default_rng(2).normal(size=(1, 3, 3, 4)).astype(np.float32)
    target = as_np(gram(ops.convert_to_tensor(features)))
    norm = float(np.sum(target ** 2))
    frames = np.concatenate([features, features * np.float32(np.sqrt(2))])  # Gram x1 and x2
    values = as_np(style_loss(ops.convert_to_tensor(frames), ops.convert_to_tensor(target), norm))
    np.testing.assert_allclose(values, [0.0, 1.0], atol=1e-5)


def test_total_variation_of_stripes():
    stripes = np.zeros((1, 4, 4, 1), np.float32)
    stripes[:, :, ::2] = 1.0  # vertical stripes: every horizontal step changes by 1
    flat = np.zeros_like(stripes)
    values = as_np(total_variation(ops.convert_to_tensor(np.concatenate([stripes, flat]))))
    np.testing.assert_allclose(values, [1.0, 0.0])


def gradient(fn, x, upstream):
    """d sum(upstream * fn(x)) / dx under the active Keras backend."""
    import keras
    backend = keras.backend.backend()
    weights = ops.convert_to_tensor(upstream)
    if backend == "tensorflow":
        import tensorflow as tf
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = ops.sum(fn(x) * weights)
        return as_np(tape.gradient(total, x))
    if backend == "jax":
        import jax
        return as_np(jax.grad(lambda v: ops.sum(fn(v) * weights))(x))
    import torch
    x = torch.tensor(x, requires_grad=True)
    ops.sum(fn(x) * weights).backward()
    return x.grad.numpy()


def finite_difference(fn, x, upstream, eps=1e-3):
    def value(v):
        return float(np.sum(as_np(fn(ops.convert_to_tensor(v.astype(np.float32)))).astype(np.float64) * upstream))
    result = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        result[index] = (value(x + step) - value(x - step)) / (2 * eps)
    return result


def test_the_tv_divisor_is_the_photos_unless_the_paintings_are_far_rougher():
    paintings, shares = [0.03, 0.09], [0.5, 0.5]   # their weighted TV: 0.06
    assert float(as_np(tv_norm(0.01, paintings, shares))) == pytest.approx(0.01 + EPSILON)
    assert float(as_np(tv_norm(0.0, paintings, shares))) == pytest.approx(0.06 / SMOOTHEST_PHOTO + EPSILON)
    assert float(as_np(tv_norm(0.0, [0.0], [1.0]))) == pytest.approx(EPSILON)


def test_hand_written_gradients_match_finite_differences():
    """style_loss and total_variation supply their gradients by hand (losses.py says
    why); both must be the true gradients, per frame, under every backend
    (tests/test_backends.py runs this file under jax and torch)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    target = as_np(gram(ops.convert_to_tensor(rng.normal(size=(1, 5, 4, 3)).astype(np.float32))))
    upstream = np.array([1.0, 0.5], np.float32)  # frames weigh differently, as content weights do
    for fn in (lambda v: style_loss(v, ops.convert_to_tensor(target), float(np.sum(target ** 2))), total_variation):
        expected = finite_difference(fn, x, upstream)
        np.testing.assert_allclose(gradient(fn, x, upstream), expected, atol=2e-3 * np.abs(expected).max())


def test_detail_layers_count_in_proportion_to_the_content_weight():
    """The content loss is the layout layers' mean plus the detail layers' mean times
    min(1, w / detail_full_at): in full at the photo end, a hundredth at weight 1."""
    from sweep.losses import compute_targets, frame_losses

    rng = np.random.default_rng(0)
    photo = [ops.convert_to_tensor(rng.uniform(0, 1, (1, 4, 4, 2)).astype("float32")) for _ in range(2)]
    painting = [ops.convert_to_tensor(rng.uniform(0, 1, (1, 4, 4, 2)).astype("float32"))]
    photo01 = ops.convert_to_tensor(rng.uniform(0, 1, (1, 8, 8, 3)).astype("float32"))
    targets = compute_targets(photo, painting, photo01, detail_full_at=100.0)
    # Three frames, each with the layout layer off by the same amount and the detail layer off by more.
    layout = ops.convert_to_tensor(np.repeat(np.asarray(photo[0]) * 1.5, 3, axis=0))
    detail = ops.convert_to_tensor(np.repeat(np.asarray(photo[1]) * 3.0, 3, axis=0))
    frames = ops.convert_to_tensor(np.repeat(np.asarray(photo01), 3, axis=0))
    outputs = [layout, detail, ops.convert_to_tensor(np.repeat(np.asarray(painting[0]), 3, axis=0))]
    weights = ops.convert_to_tensor(np.float32([1000.0, 100.0, 1.0]))
    content, _, _ = frame_losses(outputs, frames, 2, targets.as_args(), weights, n_detail=1)
    layout_loss = float(content_loss(layout[:1], photo[0], targets.content_norms[0])[0])
    detail_loss = float(content_loss(detail[:1], photo[1], targets.content_norms[1])[0])
    expected = [layout_loss + detail_loss, layout_loss + detail_loss, layout_loss + 0.01 * detail_loss]
    np.testing.assert_allclose(np.asarray(content), expected, rtol=1e-5)
    without, _, _ = frame_losses(outputs[::2], frames, 1, targets.as_args(), weights)
    np.testing.assert_allclose(np.asarray(without), [layout_loss] * 3, rtol=1e-5)
