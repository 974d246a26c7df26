"""Bounds checked before anything is written: a config that would explode (memory,
recursion, overflow) or crash after the run started is refused in one line.

- The YAML document: at most MAX_CONFIG_BYTES, nested at most MAX_NESTING deep,
  at most MAX_NODES values once aliases are expanded (a "billion laughs" document
  is a few hundred bytes of aliases that expand to 10^9 values), no alias that
  contains itself, integers below 2^63.
- Counts and sizes a run allocates from: frames, iterations, movie length.

The frame sides, which depend on the images, are checked by `plan.check_frame_side`.
"""
from __future__ import annotations

from typing import Any

import yaml

from .errors import SweepError

MAX_CONFIG_BYTES = 1_000_000
MAX_NESTING = 32
MAX_NODES = 100_000
MAX_INT = 2**63 - 1
MAX_STEPS = 10_000             # frames per job
MAX_FRAMES = 100_000           # frames of a run: jobs x steps
MAX_ITERATIONS = 1_000_000
MAX_HISTORY = 1_000
MAX_HOLD_SECONDS = 60.0
MAX_CROSSFADE = 100
MAX_MOVIE_FRAMES = 20_000      # GIF and comparison frames are held in memory while encoding
MAX_CONTENT_WEIGHT = 1e9
MIN_CONTENT_WEIGHT = 1e-6      # 0 would be a frame without content: see check_bounds
MAX_SEED = 2**63 - 1
# Tile windows start on a grid of TILE_GRID px, and a window is trimmed by up to
# TILE_GRID - 1 px to fit it; its core (the window less twice the overlap) must keep at
# least one grid step, so the least runtime.tile_size is this (sweep/tiles.py).
TILE_GRID = 16


def smallest_tile(overlap: int) -> int:
    return 2 * overlap + 2 * TILE_GRID


def check_document(raw: Any, source: str) -> None:
    """Nesting, expanded size and self-reference of a parsed YAML document."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int, open_nodes: set[int]) -> int:
        if depth > MAX_NESTING:
            raise SweepError(f"{source} is nested more than {MAX_NESTING} levels deep")
        if isinstance(node, bool) or not isinstance(node, (dict, list, int)):
            return 1
        if isinstance(node, int):
            if abs(node) > MAX_INT:
                raise SweepError(f"{source} holds an integer of {len(str(abs(node)))} digits; "
                                 f"numbers must be below 2^63")
            return 1
        key = id(node)
        if key in open_nodes:
            raise SweepError(f"{source} holds a YAML alias that contains itself")
        if key not in sizes:
            open_nodes.add(key)
            children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
            total = 1
            for child in children:
                total += size(child, depth + 1, open_nodes)
                if total > MAX_NODES:
                    raise SweepError(f"{source} expands to more than {MAX_NODES} values "
                                     f"(YAML aliases nested into aliases?); a config is a few dozen")
            open_nodes.discard(key)
            sizes[key] = total
        return sizes[key]

    size(raw, 0, set())


def check_bounds(config) -> None:
    """Values that types allow but that would exhaust memory or crash a run."""
    cw = config.sweep.content_weight
    for name, value in (("start", cw.start), ("stop", cw.stop)):
        if not MIN_CONTENT_WEIGHT <= value <= MAX_CONTENT_WEIGHT:
            raise SweepError(f"'sweep.content_weight.{name}' must be between {MIN_CONTENT_WEIGHT:g} and "
                             f"{MAX_CONTENT_WEIGHT:g}; got {value:g} (for a frame that is nearly all "
                             f"style, use a small weight such as 0.01)")
    _at_most("sweep.content_weight.steps", cw.steps, MAX_STEPS)
    if cw.steps > 1 and cw.start == cw.stop:   # every frame the same picture, and a movie that stands still
        raise SweepError(f"'sweep.content_weight.start' and 'stop' are both {cw.start:g}: a sweep of "
                         f"{cw.steps} steps needs two different weights (or steps: 1 for one frame)")
    jobs = len(config.styles) * (len(config.content) if isinstance(config.content, list) else 1)
    if jobs * cw.steps > MAX_FRAMES:
        raise SweepError(f"{jobs} job(s) x {cw.steps} steps is {jobs * cw.steps} frames; at most "
                         f"{MAX_FRAMES} per run")
    _at_most("optimizer.iterations", config.optimizer.iterations, MAX_ITERATIONS)
    _at_most("optimizer.history", config.optimizer.history, MAX_HISTORY)
    _at_most("optimizer.patience", config.optimizer.patience, MAX_ITERATIONS)
    if not 0 <= config.seed <= MAX_SEED:
        raise SweepError(f"'seed' must be between 0 and 2^63 - 1; got {config.seed}")
    movie = config.movie
    if movie.hold > MAX_HOLD_SECONDS:
        raise SweepError(f"'movie.hold' must be at most {MAX_HOLD_SECONDS:g} seconds; got {movie.hold:g}")
    _at_most("movie.crossfade", movie.crossfade, MAX_CROSSFADE)
    from .render.movie import movie_frame_count

    frames = movie_frame_count(cw.steps, movie.fps, movie.hold, movie.crossfade, movie.boomerang)
    if frames > MAX_MOVIE_FRAMES:
        raise SweepError(f"the movie would have {frames} frames (movie.fps, hold, crossfade and boomerang over "
                         f"{cw.steps} steps); at most {MAX_MOVIE_FRAMES}")


def _at_most(key: str, value: int, limit: int) -> None:
    if value > limit:
        raise SweepError(f"'{key}' must be at most {limit}; got {value}")


class _KeyGivenTwice(yaml.constructor.ConstructorError):
    pass


class _ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the
    last, silently dropping the first: an artist lost). `1e-5` stays a string here, as
    in YAML 1.1, so that a name or path such as `2e3` reads back as it was written;
    a number field takes it (`schema.number_text`)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            if key in seen:   # also 1 and true, which one Python mapping cannot hold apart
                raise _KeyGivenTwice(None, None, f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def set_value(text: str, source: str) -> Any:
    """The value of `--set KEY=TEXT`: TEXT read as YAML, or as the plain text where it
    is not YAML (a path with a colon); a key given twice is still refused."""
    try:
        return safe_load_yaml(text, source)
    except SweepError as exc:
        if isinstance(exc.__cause__, _KeyGivenTwice):
            raise
        return text


def safe_load_yaml(text: str, source: str) -> Any:
    """yaml.safe_load (with `_ConfigLoader`), with every failure (syntax, a key given
    twice, nesting too deep for the parser, an integer past Python's digit limit) as one
    SweepError."""
    if len(text) > MAX_CONFIG_BYTES:
        raise SweepError(f"{source} is {len(text)} characters; at most {MAX_CONFIG_BYTES}")
    try:
        return yaml.load(text, Loader=_ConfigLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        # the cause tells `set_value` a key given twice from text that is not YAML
        raise SweepError(f"YAML syntax error in {source}{where}: {problem}") from (
            exc if isinstance(exc, _KeyGivenTwice) else None)
    except RecursionError:
        raise SweepError(f"{source} is nested too deeply to read (at most {MAX_NESTING} levels)") from None
    except (ValueError, OverflowError) as exc:
        raise SweepError(f"cannot read {source}: {' '.join(str(exc).split())[:200]}") from None
