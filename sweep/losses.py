"""Normalised Gatys losses, written with keras.ops so they run on every backend.

Each loss is divided by a property of its own target, so that it is about 1 when
the frame shares nothing with that target and 0 when it matches:

- content: mean((F - P)^2) / mean(P^2) for the photo's activations P, averaged
  over the content layers (the photo's layout), plus the same average over the
  detail layers (its fine detail) times min(1, w / detail_full_at) for a frame of
  content weight w: the photo end keeps the photo's pixels, while the balanced and
  style-end frames (w <= 1, a share of 1% or less) answer to the layout alone;
- style: ||G - A||^2 / ||A||^2 for the painting's Gram matrices A (Grams are
  divided by the number of positions, so they do not depend on the image size),
  averaged over the style layers; for a blend of paintings, the weighted sum of
  each painting's normalised loss (docs/artist-controls.md says why);
- total variation: the frame's mean squared neighbour difference divided by the
  photo's, so 1 means "as smooth as the photo"; a photo much smoother than the
  painting (a flat colour, a clear sky) counts as 1/SMOOTHEST_PHOTO of the painting's
  (see `tv_norm`).

With both main losses on the same scale, the content weight alone sets the
trade-off: at 100 the photo wins, at 1 both pull equally, at 0.1 the style wins.
Every function returns one value per frame, shape (B,).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

from .backend import upstream_gradient

# Keeps the normalisers away from zero for a flat (e.g. single-colour) target.
EPSILON = 1e-8
# The TV loss of a photo that many times smoother than the painting is divided by the
# painting's TV over this instead of the photo's own, so the painting's own texture never
# costs more than this x tv_weight: divided by a flat photo's (0), any texture would cost
# millions and the frames stayed the photo; at 30, a night photo's style end was a blurred,
# dim wash. The built-in photo's paintings are 0.3-2.6 times rougher than it (docs/design.md).
SMOOTHEST_PHOTO = 10.0


def tv_norm(photo_tv, painting_tvs, shares):
    """What the TV loss is divided by: the photo's TV, or the paintings' (weighted by their
    shares of the style loss) over SMOOTHEST_PHOTO when that is larger. Takes floats or
    tensors, returns a tensor (the tiled targets convert it back)."""
    painting_tv = sum(float(share) * tv for share, tv in zip(shares, painting_tvs))
    return ops.maximum(photo_tv, painting_tv / SMOOTHEST_PHOTO) + EPSILON


def gram(features):
    """(B, h, w, C) activations -> (B, C, C) Gram matrices divided by h*w."""
    flat, positions = _flatten(features)
    return _gram_of_flat(flat) / positions


def _flatten(features):
    """(B, h, w, C) -> the (B, h*w, C) activations and h*w, as a float."""
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[3]))
    return flat, ops.cast(ops.shape(flat)[1], features.dtype)


def _gram_of_flat(flat):
    """(B, n, C) -> (B, C, C) = F^T F, as one batched product that reads F transposed
    (no transposed copy of the activations is made)."""
    return ops.einsum("bnc,bnd->bcd", flat, flat)


def mean_square_per_frame(values):
    return ops.mean(ops.square(values), axis=tuple(range(1, len(values.shape))))


def content_loss(features, target, target_norm):
    """Relative squared error of one layer's activations; `target` has batch 1."""
    return mean_square_per_frame(features - target) / target_norm


def style_loss(features, gram_targets, gram_norms, shares=None):
    """Relative squared error of one layer's Gram matrix, against each of K paintings:
    `gram_targets` (K, C, C), `gram_norms` (K,) (or a scalar for K = 1), `shares` (K,)
    summing to 1 (None: one painting). A blend's loss is the shares' weighted sum of
    the paintings' normalised losses, sum_k s_k ||G - A_k||^2 / norm_k.

    Its gradient is written by hand: automatic differentiation of `F^T F` costs two
    more (n x C x C) products plus elementwise passes over the activations, which on a
    CPU took a tenth of the whole objective. With G = F^T F / n,

        d loss / d F = F sum_k (G - A_k) * 4 s_k / (n * norm_k)      (G - A_k is symmetric)

    one product per layer whatever K, with the per-frame and per-painting factors (and
    the incoming gradient) folded into the small C x C matrices rather than applied to
    the activations.
    """
    norms = ops.reshape(ops.cast(ops.convert_to_tensor(gram_norms), features.dtype), (-1,))
    shares = ops.ones_like(norms) if shares is None else ops.reshape(shares, (-1,))

    @ops.custom_gradient
    def loss(features):
        flat, positions = _flatten(features)
        # (B, K, C, C): the frame's Gram against every painting's.
        difference = ops.expand_dims(_gram_of_flat(flat) / positions, 1) - ops.expand_dims(gram_targets, 0)
        value = ops.sum(ops.sum(ops.square(difference), axis=(2, 3)) * (shares / norms), axis=1)

        def gradient(*args, upstream=None):
            per_painting = ops.reshape(shares * 4.0 / (positions * norms), (1, -1, 1, 1))
            factor = ops.reshape(upstream_gradient(args, upstream), (-1, 1, 1, 1)) * per_painting
            scaled = ops.sum(difference * factor, axis=1)
            return ops.reshape(ops.einsum("bnc,bcd->bnd", flat, scaled), ops.shape(features))

        return value, gradient

    return loss(features)


def total_variation(images):
    """Mean squared difference between neighbouring pixels, per frame.

    The gradient is written by hand, from the differences already computed: as
    automatic differentiation of the slices it took as long as a convolution layer.
    For dy = x[i+1] - x[i], d sum(dy^2) / dx[i] = 2 (dy[i-1] - dy[i]), zero-padded.
    """
    @ops.custom_gradient
    def variation(images):
        dy = images[:, 1:, :, :] - images[:, :-1, :, :]
        dx = images[:, :, 1:, :] - images[:, :, :-1, :]
        count_y = ops.cast(ops.size(dy) // ops.shape(dy)[0], images.dtype)
        count_x = ops.cast(ops.size(dx) // ops.shape(dx)[0], images.dtype)
        value = mean_square_per_frame(dy) + mean_square_per_frame(dx)

        def gradient(*args, upstream=None):
            factor = ops.reshape(upstream_gradient(args, upstream), (-1, 1, 1, 1)) * 2.0
            along_y = (ops.pad(dy, ((0, 0), (1, 0), (0, 0), (0, 0))) -
                       ops.pad(dy, ((0, 0), (0, 1), (0, 0), (0, 0)))) / count_y
            along_x = (ops.pad(dx, ((0, 0), (0, 0), (1, 0), (0, 0))) -
                       ops.pad(dx, ((0, 0), (0, 0), (0, 1), (0, 0)))) / count_x
            return factor * (along_y + along_x)

        return value, gradient

    return variation(images)


@dataclass
class Targets:
    """What the frames are pulled towards, computed once per job.

    The tuples are ordered like the extractor's content and style layers. The
    compiled step receives them as arguments, never as captured constants, so
    one compiled step serves every artist and every weight.
    """
    content: tuple
    content_norms: tuple
    grams: tuple          # per style layer: (K, C, C), one Gram per painting
    gram_norms: tuple     # per style layer: (K,)
    style_shares: object  # (K,): each painting's share of the style loss, summing to 1
    photo_tv: object
    detail_full_at: object  # the content weight from which the detail layers count in full
    projection: object    # (3, 3): what the network sees of a pixel (see seen_by_network)

    def as_args(self):
        return (self.content, self.content_norms, self.grams, self.gram_norms, self.style_shares,
                self.photo_tv, self.detail_full_at, self.projection)


def seen_by_network(images01, target_args):
    """The frames as the network and the TV loss see them: every pixel's RGB times the
    targets' 3x3 projection (colors.network_projection: the identity, or luminance only).
    Written channel by channel, not as a matrix product, so that the identity is exact
    (a matrix product may run in TF32 on a GPU)."""
    projection = target_args[-1]
    return sum(images01[..., c:c + 1] * projection[:, c] for c in range(3))


def compute_targets(content_features, style_features, photo01, shares=(1.0,), projection=None,
                    photo_style_features=None, detail_full_at=100.0, painting_tvs=None) -> Targets:
    """Targets from one forward pass of the photo and of the paintings: `style_features`
    holds, per style layer, the K paintings' activations (K, h, w, C), or a list of K
    (1, h_k, w_k, C) when the paintings differ in size; `shares` are their weights;
    `projection` (3, 3), default the identity, is what the network sees of a pixel.

    With `photo_style_features` (the photo's activations at the style layers) the
    style loss is divided as well by the photo's own style loss, so that the photo
    scores 1: the morph's photo end then weighs the same for every pair (the photo's
    own style loss ranged from 1.0 to 13 over the samples and two paintings at 128 px).
    `painting_tvs` (the paintings' total variations) set the floor of the TV loss's
    divisor (`tv_norm`); without them it is the photo's own.
    """
    grams = tuple(ops.concatenate([gram(f) for f in layer], axis=0) if isinstance(layer, (list, tuple))
                  else gram(layer) for layer in style_features)
    style_shares = ops.convert_to_tensor([float(s) for s in shares], dtype="float32")
    gram_norms = tuple(ops.sum(ops.square(g), axis=(1, 2)) + EPSILON for g in grams)
    if photo_style_features is not None:
        photo_terms = [ops.sum(style_shares * ops.sum(ops.square(gram(f) - g), axis=(1, 2)) / n)
                       for f, g, n in zip(photo_style_features, grams, gram_norms)]
        photo_style = ops.mean(ops.stack(photo_terms)) + EPSILON
        gram_norms = tuple(n * photo_style for n in gram_norms)
    return Targets(
        content=tuple(content_features),
        content_norms=tuple(ops.mean(ops.square(f)) + EPSILON for f in content_features),
        grams=grams,
        gram_norms=gram_norms,
        style_shares=style_shares,
        photo_tv=tv_norm(total_variation(photo01)[0], painting_tvs or [0.0] * len(shares), shares),
        detail_full_at=ops.convert_to_tensor(np.float32(detail_full_at)),
        projection=ops.convert_to_tensor(np.eye(3, dtype="float32") if projection is None else projection),
    )


def frame_losses(outputs, images01, n_content, target_args, content_weights, n_detail=0):
    """Per-frame (content, style, tv) losses from the extractor's outputs; `images01`
    are the frames as the network saw them (seen_by_network). The last `n_detail` of
    the `n_content` content layers are detail layers, weighed by `detail_share`."""
    content, content_norms, grams, gram_norms, shares, photo_tv, detail_full_at, _ = target_args
    content_terms = [content_loss(f, t, n) for f, t, n in zip(outputs[:n_content], content, content_norms)]
    style_terms = [style_loss(f, g, n, shares) for f, g, n in zip(outputs[n_content:], grams, gram_norms)]
    n_layout = n_content - n_detail
    content_value = ops.mean(ops.stack(content_terms[:n_layout]), axis=0)
    if n_detail:
        detail_value = ops.mean(ops.stack(content_terms[n_layout:]), axis=0)
        content_value = content_value + detail_share(content_weights, detail_full_at) * detail_value
    style_value = ops.mean(ops.stack(style_terms), axis=0)
    tv_value = total_variation(images01) / photo_tv
    return content_value, style_value, tv_value


def detail_share(content_weights, detail_full_at):
    """How much of the detail layers' loss a frame of each content weight counts."""
    return ops.minimum(1.0, content_weights / detail_full_at)


def weighted_total(content_value, style_value, tv_value, content_weights, style_weight, tv_weight):
    """Per-frame objective; `content_weights` has shape (B,), one per frame."""
    return content_weights * content_value + style_weight * style_value + tv_weight * tv_value
