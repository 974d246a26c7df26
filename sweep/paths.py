"""Where Keras keeps its files, found as Keras finds them; the weights cache and JAX's
compilation cache live under it."""
from __future__ import annotations

import os
from pathlib import Path


def keras_home() -> Path:
    """`$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` if home is not writable), as Keras does."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser()
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return Path(base) / ".keras"
