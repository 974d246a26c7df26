"""Content weights as text: one formatter for labels and messages, and the fixed form
of frame file names."""
from __future__ import annotations

import math


def format_weight(weight: float) -> str:
    """A content weight for people: 3 significant digits, no exponent in [1e-4, 1e6).

    100 -> "100", 31.62 -> "31.6", 3.162 -> "3.16", 0.3162 -> "0.316", 0.1 -> "0.1".
    """
    weight = float(weight)
    if weight != 0 and math.isfinite(weight) and 1e-4 <= abs(weight) < 1e6:
        digits = max(0, 2 - math.floor(math.log10(abs(weight))))
        text = f"{round(weight, digits):.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return f"{weight:.3g}"


def filename_weight(weight: float) -> str:
    """The weight in a frame's file name: three decimals, so that names sort and never
    change between runs ("3.162", "100.000")."""
    return f"{float(weight):.3f}"
