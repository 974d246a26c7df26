"""The first five minutes without a config file.

- `sweep run --content PHOTO --style NAME=PAINTING ...`: the config those arguments
  imply (every other key at its default, `--set` applied), checked like a file's.
  The run saves it as DIR/config.yaml as every run does, so `sweep run DIR/config.yaml`
  resumes or repeats it.
- `sweep init [PATH]`: a commented starter config with every section at its default.
  It is generated from the schema in sweep/config.py, comments included (the comments
  beside each field there), so it cannot drift from what the loader accepts.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml

from .config import Config, parse_config
from .errors import SweepError

STARTER_PATH = "sweep.yaml"
# The starter's inputs: the built-in photo and artworks, so the file runs as written.
STARTER_CONTENT = "sample:grace_hopper"
STARTER_STYLES = {"brushstrokes": "sample:brushstrokes", "stained_glass": "sample:stained_glass"}


# --------------------------------------------------------------------------- run without a file

def parse_styles(styles: Sequence[str]) -> dict[str, str]:
    """["van_gogh=starry.jpg", ...] -> {"van_gogh": "starry.jpg", ...}."""
    parsed: dict[str, str] = {}
    for item in styles:
        name, sep, painting = item.partition("=")
        name, painting = name.strip(), painting.strip()
        if not sep or not name or not painting:
            raise SweepError(f"--style expects NAME=PAINTING, e.g. --style van_gogh=starry.jpg; got {item!r}")
        if name in parsed:
            raise SweepError(f"--style {name!r} is given twice; each artist needs its own name")
        parsed[name] = painting
    return parsed


def implied_config(content: Sequence[str], styles: Sequence[str], overrides: Sequence[str] = (),
                   base_dir: str | Path = ".") -> Config:
    """The config that `--content` and `--style` imply, checked like a file; relative
    paths are relative to `base_dir` (the current directory on the command line)."""
    if not content or not styles:
        raise SweepError("sweep run needs a config file, or --content PHOTO and at least one "
                         "--style NAME=PAINTING (see `sweep run --help`)")
    raw = {"content": list(content) if len(content) > 1 else content[0], "styles": parse_styles(styles)}
    return parse_config(yaml.safe_dump(raw, sort_keys=False), base_dir=base_dir, overrides=overrides,
                        source="--content/--style")


def implied_out_dir(content: Sequence[str]) -> Path:
    """outputs/<photo name> for one photo, outputs/gallery for several."""
    from .plan import photo_name

    if len(content) != 1 or any(ch in content[0] for ch in "*?["):
        return Path("outputs") / "gallery"
    return Path("outputs") / photo_name(content[0])


# --------------------------------------------------------------------------- sweep init

def starter_yaml() -> str:
    """The commented starter config: every key of the schema at its default."""
    lines = [
        "# A sweep config: every key below is at its default except content and styles, which",
        "# name the built-in samples so that this file runs as it is. Run it with",
        "#     sweep run THIS_FILE.yaml        (add --dry-run for the plan and its estimated time)",
        "# Paths are relative to this file. Inputs: a photo or image file, or sample:NAME",
        "# (photos: sample:grace_hopper; artworks: sample:brushstrokes, sample:stained_glass, sample:rings).",
        "# On a CPU the defaults (30 frames of 512 px) take long: try --set image.max_size=128",
        "# --set optimizer.iterations=60 first, or see `sweep doctor` for this machine's speed.",
        "",
    ]
    defaults = {"content": STARTER_CONTENT, "styles": dict(STARTER_STYLES)}
    lines += _section(Config, defaults, indent=0)
    return "\n".join(lines) + "\n"


def write_starter(path: str | Path = STARTER_PATH, force: bool = False) -> Path:
    from .atomic import write_text

    target = Path(path)
    if target.exists() and not force:
        raise SweepError(f"{target} already exists; choose another path or pass --force to replace it")
    if target.exists() and not target.is_file():
        raise SweepError(f"{target} exists and is not a file")
    if not target.parent.is_dir():
        raise SweepError(f"cannot write {target}: the directory {target.parent} does not exist")
    write_text(target, starter_yaml())
    return target


def _section(cls: Any, values: dict[str, Any], indent: int) -> list[str]:
    """YAML lines of a dataclass's fields at their defaults (or `values`), each with the
    comments that stand above and beside the field in sweep/config.py."""
    comments = _field_comments(cls)
    hints = typing.get_type_hints(cls)
    pad = " " * indent
    lines: list[str] = []
    for f in dataclasses.fields(cls):
        above, beside = comments.get(f.name, ([], ""))
        tp = hints[f.name]
        value = values[f.name] if f.name in values else _default(f)
        choices = _choices(tp)
        if choices and not all(choice in " ".join(above) + beside for choice in choices):
            beside = f"{beside}; " if beside else ""
            beside += ("any of: " if typing.get_origin(tp) is list else "one of: ") + ", ".join(choices)
        if indent == 0 and lines and f.name != "styles":
            lines.append("")  # top-level keys stand apart; styles belongs with content
        if dataclasses.is_dataclass(tp):
            lines += [f"{pad}# {text}" for text in above + _docstring(tp)]
            lines.append(f"{pad}{f.name}:" + (f"  # {beside}" if beside else ""))
            lines += _section(tp, {}, indent + 2)
            continue
        lines += [f"{pad}# {text}" for text in above]
        if isinstance(value, dict):
            lines.append(f"{pad}{f.name}:" + (f"  # {beside}" if beside else ""))
            lines += [f"{pad}  {_scalar(key)}: {_scalar(item)}" for key, item in value.items()]
            lines += _mapping_example(tp, pad + "  ")
        else:
            lines.append(f"{pad}{f.name}: {_scalar(value)}" + (f"  # {beside}" if beside else ""))
    return lines


def _mapping_example(tp: Any, pad: str) -> list[str]:
    """For a mapping whose values are a dataclass (an artist): its long form, commented
    out, every key at its default."""
    if typing.get_origin(tp) is not dict or not dataclasses.is_dataclass(typing.get_args(tp)[1]):
        return []
    item = typing.get_args(tp)[1]
    required = {f.name: ["painting.jpg"] for f in dataclasses.fields(item)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    example = _section(item, required, indent=2)
    return [f"{pad}# Or, per name, a mapping with every key:", f"{pad}# NAME:"] + [f"{pad}# {line}" for line in example]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    raise AssertionError(f"{f.name} has no default and no starter value")


def _scalar(value: Any) -> str:
    """One value in YAML flow style, on one line."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...").strip()


def _choices(tp: Any) -> list[str]:
    if typing.get_origin(tp) is Literal:
        return [str(choice) for choice in typing.get_args(tp)]
    if typing.get_origin(tp) is list:
        return _choices(typing.get_args(tp)[0])
    return []


def _docstring(cls: Any) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    # dataclasses make a signature docstring when there is none: not a comment.
    return [] if doc.startswith(cls.__name__ + "(") else doc.splitlines()


_FIELD = re.compile(r"^\s+(\w+)\s*:\s*[^=]+?(?:=.*?)?(?:#\s*(.*))?$")


def _field_comments(cls: Any) -> dict[str, tuple[list[str], str]]:
    """{field: (comment lines above it, comment beside it)} from the class's source."""
    comments: dict[str, tuple[list[str], str]] = {}
    pending: list[str] = []
    names = {f.name for f in dataclasses.fields(cls)}
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD.match(line)
        if match and match.group(1) in names:
            comments[match.group(1)] = (pending, (match.group(2) or "").strip())
        pending = []
    return comments


__all__ = ["STARTER_PATH", "implied_config", "implied_out_dir", "parse_styles", "starter_yaml", "write_starter"]
