"""The cut VGG16 feature extractor and the caffe preprocess/deprocess pair.

Frames are optimised as RGB pixels in [0, 1]. The network sees them the way Keras'
VGG16 was trained: `preprocess` scales to [0, 255], flips RGB to BGR and subtracts
the ImageNet channel means; `deprocess` is its exact inverse.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from .config import ModelSection
from .vgg16_layers import VGG16_BLOCK_CHANNELS, VGG16_FEATURE_LAYERS

# ImageNet channel means in BGR order, as in keras.applications.imagenet_utils (caffe mode).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def preprocess(rgb01):
    """RGB in [0, 1], shape (B, H, W, 3) -> BGR, mean-centred, in [0, 255] units."""
    bgr = ops.flip(rgb01, axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(np.array(CAFFE_MEAN_BGR, dtype="float32"))


def deprocess(bgr_centred):
    """The inverse of `preprocess`."""
    bgr = bgr_centred + ops.convert_to_tensor(np.array(CAFFE_MEAN_BGR, dtype="float32"))
    return ops.flip(bgr, axis=-1) / 255.0


@dataclass
class FeatureExtractor:
    """VGG16 cut at the deepest layer the losses need.

    `model(x)` takes preprocessed images and returns one activation per entry of
    `layers`: the content layers first, then the style layers (a layer used for
    both appears in both lists and is computed once). The last `n_detail` content
    layers hold the photo's fine detail (model.detail_layers), which the losses weigh
    by the frame's content weight (losses.frame_losses).
    """
    model: keras.Model
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    precision: str = "float32"
    n_detail: int = 0

    @property
    def layers(self) -> tuple[str, ...]:
        return self.content_layers + self.style_layers


def build_extractor(model_cfg: ModelSection, load_weights=None) -> FeatureExtractor:
    """Build the cut VGG16; `load_weights(model)` fills in verified weights.

    Without `load_weights` the network keeps Keras' random initialisation, which
    only unit tests use. In bfloat16 (`precision: bfloat16`, or `auto` where that is
    faster) every layer computes in bfloat16 (weights kept in float32) and the outputs
    are cast back, so the losses and the gradient reaching the pixels are float32
    whatever the precision.
    """
    from .device import resolve_precision

    content_layers = tuple(model_cfg.content_layers) + tuple(model_cfg.detail_layers)
    names = content_layers + tuple(model_cfg.style_layers)
    # Weights about to be loaded need no random draw: under JAX, compiling Keras'
    # random initialisers took 2 of the 2.2 s a build took; zeros take 0.3 s.
    inputs, outputs = vgg16_up_to(model_cfg.deepest_layer, "zeros" if load_weights is not None else "glorot_uniform")
    model = keras.Model(inputs, [outputs[name] for name in names], name="vgg16_features")
    precision = resolve_precision(model_cfg.precision)
    if precision == "bfloat16":
        model = _in_bfloat16(model)
    model.trainable = False
    if load_weights is not None:
        load_weights(model)
    return FeatureExtractor(model=model, content_layers=content_layers, style_layers=tuple(model_cfg.style_layers),
                            precision=precision, n_detail=len(model_cfg.detail_layers))


def vgg16_up_to(deepest_layer: str, kernel_initializer: str):
    """Keras' VGG16 without its top (keras.applications.vgg16: same layers, names and
    weight shapes), built only up to `deepest_layer`. Returns the input and every
    layer's output by name."""
    x = inputs = keras.Input((None, None, 3), name="image")
    outputs = {}
    for name in VGG16_FEATURE_LAYERS[:VGG16_FEATURE_LAYERS.index(deepest_layer) + 1]:
        if name.endswith("_pool"):
            layer = keras.layers.MaxPooling2D((2, 2), strides=(2, 2), name=name)
        else:
            block = int(name[len("block")])
            layer = keras.layers.Conv2D(VGG16_BLOCK_CHANNELS[block], (3, 3), activation="relu", padding="same",
                                        kernel_initializer=kernel_initializer, name=name)
        x = outputs[name] = layer(x)
    return inputs, outputs


def _in_bfloat16(model: keras.Model) -> keras.Model:
    """`model` rebuilt with Keras' mixed_bfloat16 policy on every layer (layer names
    kept, so the weights load by name), its outputs cast back to float32. The policy
    is set per layer, never globally: other models in the process stay float32."""
    def mixed(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "mixed_bfloat16"})

    clone = keras.models.clone_model(model, clone_function=mixed)
    outputs = [keras.layers.Activation("linear", dtype="float32", name=f"output{k}_float32")(output)
               for k, output in enumerate(clone.outputs)]
    return keras.Model(clone.input, outputs, name=model.name)
