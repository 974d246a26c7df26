"""sweep: photo-to-painting morph movies from a sweep of the style-transfer content weight."""
import os

# TensorFlow's C++ log lines would bury the progress bar; the level must be set
# before keras imports TensorFlow. setdefault: a user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .api import RunResult, default_out_dir, load_config, make_plan, render, run
from .config import Config, parse_config
from .errors import SweepError

__all__ = ["Config", "RunResult", "SweepError", "default_out_dir", "load_config", "make_plan",
           "parse_config", "render", "run"]
__version__ = "0.1.0"
