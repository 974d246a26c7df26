"""Preprocessing and losses on known inputs (no network weights involved)."""
import numpy as np
from keras import ops

from sweep.losses import content_loss, gram, style_loss, total_variation
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
