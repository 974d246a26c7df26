"""What one frame costs: FLOPs of an optimisation step, bytes of VGG16's activations and
of the optimiser's state. The plan sizes chunks with it, sweep/tiles.py sizes tiles."""
from __future__ import annotations

import math

from .config import Config
from .vgg16_layers import VGG16_BLOCK_CHANNELS, VGG16_FEATURE_LAYERS

# Bytes kept per activation value during forward + input-gradient: the forward
# activation, its gradient, and the ReLU/conv temporaries: a rough upper bound, which the plan's
# chunk size and peak-memory estimate use.
_BYTES_PER_ACTIVATION = 4 * 3
# A forward pass alone (the painting's) keeps the float32 activation only.
_FORWARD_BYTES_PER_ACTIVATION = 4
_WEIGHTS_BYTES = 59 * 2**20


def layer_shapes(height: int, width: int, deepest: str) -> list[tuple[int, int, int, int]]:
    """(h, w, c_in, c_out) of every conv layer up to `deepest`, for a frame of height x width."""
    shapes = []
    c_in = 3
    for name in VGG16_FEATURE_LAYERS[:VGG16_FEATURE_LAYERS.index(deepest) + 1]:
        block = int(name[5])
        scale = 2 ** (block - 1)
        if "conv" in name:
            c_out = VGG16_BLOCK_CHANNELS[block]
            shapes.append((math.ceil(height / scale), math.ceil(width / scale), c_in, c_out))
            c_in = c_out
    return shapes


def activation_bytes(height: int, width: int, config: Config) -> int:
    """Bytes of VGG16's activations (and their gradients) for one height x width image."""
    shapes = layer_shapes(height, width, config.model.deepest_layer)
    return sum(h * w * c_out for h, w, _, c_out in shapes) * _BYTES_PER_ACTIVATION


def forward_bytes(height: int, width: int, config: Config) -> int:
    """Bytes of VGG16's forward activations for one height x width image, without
    gradients: the painting's pass, once per job, whose memory the frames' optimisation
    does not get back (at 256 px, a painting four times the frame's side raised the
    run's peak RSS by 684 MB; this gives 700 MB)."""
    shapes = layer_shapes(height, width, config.model.deepest_layer)
    return sum(h * w * c_out for h, w, _, c_out in shapes) * _FORWARD_BYTES_PER_ACTIVATION


def optimiser_bytes(height: int, width: int, config: Config) -> int:
    """Bytes of the optimiser's frame-sized state (iterate, gradient, history) for one frame."""
    copies = 2 * config.optimizer.history + 9 if config.optimizer.name == "lbfgs" else 6
    return height * width * 3 * 4 * copies


def frame_costs(height: int, width: int, config: Config) -> tuple[float, int]:
    """FLOPs of one optimisation step and bytes held, for one frame."""
    shapes = layer_shapes(height, width, config.model.deepest_layer)
    forward = sum(2 * 9 * h * w * c_in * c_out for h, w, c_in, c_out in shapes)
    # The input gradient costs about one more forward pass (no weight gradients).
    return 2.0 * forward, activation_bytes(height, width, config) + optimiser_bytes(height, width, config)
