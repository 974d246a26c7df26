"""sweep: photo-to-painting morph movies from a sweep of the style-transfer content weight."""
import os

# TensorFlow's C++ log lines would bury the progress bar; the level must be set
# before keras imports TensorFlow. setdefault: a user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .config import Config, load_config, parse_config
from .errors import SweepError

# The API pulls in the planner and, through it, Keras; importing it lazily lets
# `sweep run bad.yaml` refuse a bad config before TensorFlow is imported (< 1 s).
_API_NAMES = ("RunResult", "default_out_dir", "make_plan", "render", "run")


def __getattr__(name: str):
    if name in _API_NAMES:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'sweep' has no attribute {name!r}")


__all__ = ["Config", "RunResult", "SweepError", "default_out_dir", "load_config", "make_plan",
           "parse_config", "render", "run"]
__version__ = "0.1.0"
