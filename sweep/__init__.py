"""sweep: photo-to-painting morph movies from a sweep of the style-transfer content weight."""
from .api import RunResult, default_out_dir, load_config, make_plan, render, run
from .config import Config, parse_config
from .errors import SweepError

__all__ = ["Config", "RunResult", "SweepError", "default_out_dir", "load_config", "make_plan",
           "parse_config", "render", "run"]
__version__ = "0.1.0"
