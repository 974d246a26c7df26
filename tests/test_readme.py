"""The README's config reference lists every key of the schema with its true default."""
import dataclasses
import re
import typing

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
