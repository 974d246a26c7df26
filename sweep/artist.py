"""An artist of `styles` in the config schema: a painting, or a weighted blend of
paintings, and whose colours the frames keep (docs/artist-controls.md).

    van_gogh: starry.jpg                                     # one painting
    van_gogh_photo: {painting: starry.jpg, colors: photo}
    blend: {paintings: [starry.jpg, scream.jpg], weights: [0.7, 0.3], colors: match}

Every form becomes one `Artist` with its weights normalised; `Artist.from_yaml` is the
hook through which `schema.build` reads it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import SweepError
from .schema import build, describe, unknown_key_message


@dataclass
class Artist:
    paintings: list[str]
    # Each painting's share of the style loss, normalised to sum 1; empty: equal shares.
    weights: list[float] = field(default_factory=list)
    # style: the frames take the painting's colours. photo: luminance-only transfer, the
    # frames keep the photo's colours. match: the paintings' colours are first matched
    # to the photo's (RGB mean and covariance). See sweep/colors.py.
    colors: Literal["style", "photo", "match"] = "style"

    # The keys an artist mapping may have: `painting` is the one-painting spelling of `paintings`.
    YAML_KEYS = ("painting", "paintings", "weights", "colors")

    @classmethod
    def from_yaml(cls, value: Any, path: str) -> "Artist":
        """The artist that `value` (a path or a mapping) at config key `path` describes."""
        return build(cls, _fields(value, path), path).checked(path)

    def checked(self, path: str) -> "Artist":
        """This artist with its weights checked and normalised to sum 1 (equal when none are given)."""
        count = len(self.paintings)
        if count == 0:
            raise SweepError(f"'{path}.paintings' is empty; name at least one painting")
        weights = self.weights or [1.0] * count
        if len(weights) != count:
            raise SweepError(f"'{path}.weights' has {len(weights)} value(s) for {count} painting(s); "
                             f"give one weight per painting")
        try:
            total = math.fsum(weights)
        except OverflowError:
            total = math.inf
        if any(w < 0 for w in weights) or not 0 < total < math.inf:
            raise SweepError(f"'{path}.weights' must be >= 0 with a positive sum that is finite; got {weights}")
        if abs(total - 1.0) > 1e-9:  # already normalised (a saved config.yaml) stays bit for bit as it is
            weights = [w / total for w in weights]
        return dataclasses.replace(self, weights=[float(w) for w in weights])


def _fields(value: Any, path: str) -> dict:
    """An artist's YAML (a path, or a mapping with `painting` or `paintings`) as the
    fields of `Artist`."""
    if isinstance(value, str):
        return {"paintings": [value]}
    if not isinstance(value, dict):
        raise SweepError(f"'{path}' must be a painting's path or a mapping such as "
                         f"{{painting: starry.jpg, colors: photo}}; got {describe(value)}")
    for key in value:
        if key not in Artist.YAML_KEYS:
            raise SweepError(unknown_key_message(str(key), list(Artist.YAML_KEYS), path))
    mapping = dict(value)
    if "painting" in mapping:
        if "paintings" in mapping:
            raise SweepError(f"'{path}' has both 'painting' and 'paintings'; use 'painting: P' for one "
                             f"painting or 'paintings: [P, ...]' for a blend")
        painting = mapping.pop("painting")
        if not isinstance(painting, str):
            raise SweepError(f"'{path}.painting' must be a string; got {describe(painting)}")
        mapping["paintings"] = [painting]
    if "paintings" not in mapping:
        raise SweepError(f"'{path}' names no painting; add 'painting: P' or 'paintings: [P, ...]'")
    return mapping

