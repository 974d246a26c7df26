"""The README's config reference lists every key of the schema with its true default; every
relative link and image in README.md and docs/*.md resolves; and every `sweep` option and
config key they name exists."""
import dataclasses
import re
import sys
import typing
from pathlib import Path

import pytest
import yaml

from sweep.artist import Artist
from sweep.config import Config

from .conftest import REPO


def schema_defaults(cls=Config, prefix=""):
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        path = prefix + field.name
        if dataclasses.is_dataclass(hints[field.name]):
            yield from schema_defaults(hints[field.name], path + ".")
        elif field.default is not dataclasses.MISSING:
            yield path, field.default
        elif field.default_factory is not dataclasses.MISSING:
            yield path, field.default_factory()
        else:
            yield path, "(required)"


def test_config_reference_matches_the_schema():
    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| (.+?) \|", readme, flags=re.M))
    expected = dict(schema_defaults())
    assert set(rows) == set(expected)
    for key, default in expected.items():
        cell = rows[key].strip("`")
        assert (cell if default == "(required)" else yaml.safe_load(cell)) == default, key


def test_config_reference_lists_every_artist_key():
    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `styles\.NAME\.([a-z_]+)` \| (.+?) \|", readme, flags=re.M))
    assert set(rows) == set(Artist.YAML_KEYS)
    assert yaml.safe_load(rows["colors"].strip("`")) == Artist.colors
    assert yaml.safe_load(rows["weights"].strip("`")) == Artist.__dataclass_fields__["weights"].default_factory()


# --- Every relative link and image in the user docs resolves -------------------------------

FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1", flags=re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
MARKDOWN_LINK = re.compile(r"(!?)\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", flags=re.I)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", flags=re.M)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


def user_docs():
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose(markdown: str) -> str:
    """The text a reader sees as prose: code blocks and code spans hold no links."""
    return INLINE_CODE.sub("", FENCED_BLOCK.sub("", markdown))


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped,
    spaces as hyphens (`## Picking a frame: \\`sweep pick\\`` -> picking-a-frame-sweep-pick)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 suffixes for repeated headings."""
    found, seen = set(), {}
    for heading in HEADING.findall(FENCED_BLOCK.sub("", markdown)):
        slug = heading_anchor(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(markdown: str):
    """(is_image, target) for every Markdown or HTML link and image in the prose."""
    text = prose(markdown)
    for bang, target in MARKDOWN_LINK.findall(text):
        yield bool(bang), target
    for target in HTML_LINK.findall(text):
        yield Path(target.split("#")[0]).suffix.lower() in IMAGE_SUFFIXES, target


def broken_links(document: Path) -> list[str]:
    """What is wrong with each relative link of `document`: a missing file, a path that
    leaves the repository, an image that is not one, or an anchor with no such heading."""
    problems = []
    for is_image, target in links(document.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.I):
            continue  # http:, https:, mailto:: not files in the repository
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.is_relative_to(REPO):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif is_image and resolved.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(f"{target}: not an image")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
        elif anchor and resolved.suffix != ".md":
            problems.append(f"{target}: an anchor into a file that has no headings")
    return problems


@pytest.mark.parametrize("document", user_docs(), ids=lambda path: path.name)
def test_every_relative_link_and_image_resolves(document):
    assert broken_links(document) == []


def test_images_in_the_docs_are_readable_pictures():
    from PIL import Image
    for document in user_docs():
        for is_image, target in links(document.read_text()):
            if is_image and not re.match(r"[a-z]+:", target, flags=re.I):
                with Image.open(document.parent / target) as picture:
                    picture.verify()
                    assert min(picture.size) >= 100, target


def test_the_link_checker_finds_what_is_broken(tmp_path, monkeypatch):
    """The checker itself: a page with one good link of each kind and one of each fault."""
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "shot.png").write_bytes(b"")
    (tmp_path / "docs" / "notes.md").write_text("# Notes\n\n## The `sweep pick` command\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n## Using it: `sweep run`\n\n```bash\n# not a heading\n[x](gone.md)\n```\n"
        "![shot](docs/shot.png) [notes](docs/notes.md#the-sweep-pick-command) [up](#using-it-sweep-run)"
        " [web](https://example.org/x) `[code](gone.md)` <img src=\"docs/shot.png\">\n"
        "[missing](docs/missing.md) [bad anchor](docs/notes.md#nope) [own](#not-a-heading)"
        " ![text as image](docs/notes.md) [escape](../outside.md) <a href=\"docs/absent.html\">x</a>\n")
    assert broken_links(page) == [
        "docs/missing.md: no such file",
        "docs/notes.md#nope: no heading #nope in notes.md",
        "#not-a-heading: no heading #not-a-heading in README.md",
        "docs/notes.md: not an image",
        "../outside.md: outside the repository",
        "docs/absent.html: no such file",
    ]


def test_the_readme_stays_a_short_guide_that_links_the_details():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 350, "README.md is a five-minute guide: move details to docs/"
    targets = {target for _, target in links(readme)}
    assert {"docs/performance.md", "docs/design.md", "DEVELOPERS.md"} <= targets


# --- What the docs tell a user to type exists --------------------------------------------------

SWEEP_COMMAND = re.compile(r"\bsweep (run|status|pick|weights|init|doctor)\b([^`\n]*)")
# A config key as the docs name it: a dotted path in a code span (`runtime.chunk_size`) or after --set.
CONFIG_KEY = re.compile(r"(?:`|--set[ =])((?:sweep|image|optimizer|model|movie|runtime)\.[a-z_.]+)")


def command_options() -> dict[str, set[str]]:
    """Each `sweep` subcommand's option strings, from the parser the CLI itself uses."""
    import argparse
    from sweep.cli import build_parser
    subcommands = next(action for action in build_parser()._actions
                       if isinstance(action, argparse._SubParsersAction))
    return {name: {option for action in parser._actions for option in action.option_strings}
            for name, parser in subcommands.choices.items()}


def test_every_documented_command_and_option_exists():
    options = command_options()
    used = 0
    for document in user_docs():
        for command, rest in SWEEP_COMMAND.findall(document.read_text()):
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                assert flag in options[command], f"{document.name}: sweep {command} {flag}"
                used += 1
    assert used >= 10  # the pattern above still finds the documented command lines


def test_every_config_key_named_in_the_docs_exists():
    config_keys = {key for key, _ in schema_defaults()}
    named = [(document.name, key) for document in user_docs()
             for key in CONFIG_KEY.findall(document.read_text())]
    assert [(name, key) for name, key in named if key not in config_keys] == []
    assert {"movie.formats", "runtime.chunk_size", "model.precision"} <= {key for _, key in named}


# A file of the repository named in the docs (`sweep/config.py`, scripts/bench.py), not a
# path under another root (KERAS_HOME/sweep/jax_cache, ~/sweep/outputs).
REPOSITORY_FILE = re.compile(r"(?<![\w/.~-])((?:sweep|scripts|configs|docs|tests)/[\w./-]*\.\w+)")


def test_every_repository_file_named_in_the_docs_exists():
    named = [(document.name, path) for document in user_docs()
             for path in REPOSITORY_FILE.findall(document.read_text())]
    assert [(name, path) for name, path in named if not (REPO / path).is_file()] == []
    assert {"scripts/bench.py", "sweep/config.py", "configs/gallery.yaml"} <= {path for _, path in named}
