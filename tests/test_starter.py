"""The first five minutes without a config file: `sweep init`, `sweep run --content
--style`, its resume through DIR/config.yaml, and `sweep --version`."""
import dataclasses
import re
import tomllib
import typing

import pytest
import yaml

import sweep
from sweep import cli
from sweep.config import Config, parse_config
from sweep.starter import STARTER_CONTENT, STARTER_STYLES, implied_config, starter_yaml

from .conftest import REPO, run_cli


def _all_keys(cls, prefix=""):
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            yield from _all_keys(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def test_starter_config_parses_back_to_every_default():
    text = starter_yaml()
    parsed = parse_config(text)
    assert parsed.to_dict() == parse_config(yaml.safe_dump({"content": STARTER_CONTENT,
                                                            "styles": dict(STARTER_STYLES)})).to_dict()
    # Every key of the schema is written out, none left implicit.
    raw = yaml.safe_load(text)
    for key in _all_keys(Config):
        node = raw
        for part in key.split("."):
            assert part in node, key
            node = node[part]


def test_starter_config_carries_the_schema_comments():
    text = starter_yaml()
    # Comments come from beside and above the fields in sweep/config.py ...
    assert "learning_rate: 0.02  # Adam only; pixels live in [0, 1]" in text
    assert "# Share of `iterations` spent on the scales below 1.0" in text
    # ... and a Literal's choices are listed where the comment does not name them all.
    assert re.search(r"^  name: lbfgs  # one of: lbfgs, adam$", text, re.M)
    assert re.search(r"^    spacing: even  # one of: even, log, linear$", text, re.M)


def test_init_writes_the_starter_and_never_overwrites(tmp_path):
    target = tmp_path / "my.yaml"
    result = run_cli("init", target)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == starter_yaml()
    target.write_text("content: mine.jpg\n")
    again = run_cli("init", target)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"error: {target} already exists; choose another path or pass --force to replace it"]
    assert target.read_text() == "content: mine.jpg\n"
    assert run_cli("init", target, "--force").returncode == 0
    assert target.read_text() == starter_yaml()
    missing_dir = run_cli("init", tmp_path / "nowhere" / "x.yaml")
    assert missing_dir.returncode == 2 and "does not exist" in missing_dir.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.yaml"]


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"sweep {sweep.__version__}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"]  # read from sweep.__version__: one place


def test_implied_config_is_checked_like_a_file(tmp_path):
    config = implied_config(["sample:grace_hopper"], ["a=sample:rings", "b = x.jpg"], ["image.max_size=64"],
                            base_dir=tmp_path)
    assert config.content == "sample:grace_hopper"
    assert {name: artist.paintings for name, artist in config.styles.items()} == {
        "a": ["sample:rings"], "b": [str(tmp_path / "x.jpg")]}
    assert config.image.max_size == 64 and config.optimizer == Config("x", {}).optimizer
    gallery = implied_config(["a.jpg", "b.jpg"], ["a=sample:rings"], base_dir=tmp_path)
    assert gallery.content == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]


@pytest.mark.parametrize("args, message", [
    (["run"], "sweep run needs a config file, or --content PHOTO and at least one --style NAME=PAINTING"),
    (["run", "--content", "sample:grace_hopper"], "at least one --style"),
    (["run", "--content", "sample:grace_hopper", "--style", "van_gogh"], "--style expects NAME=PAINTING"),
    (["run", "--content", "sample:grace_hopper", "--style", "a=sample:rings", "--style", "a=sample:rings"],
     "--style 'a' is given twice"),
    (["run", "--content", "sample:grace_hopper", "--style", "frames=sample:rings"], "reserved"),
    (["run", "--content", "sample:grace_hopper", "--style", "a=sample:rings", "--set", "image.max_sise=3"],
     "did you mean 'max_size'"),
    (["run", "configs/quickstart.yaml", "--style", "a=sample:rings"], "not both"),
])
def test_bad_arguments_without_a_file_are_one_error_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_run_without_a_file_writes_its_config_and_resumes_from_it(tmp_path, monkeypatch, capsys, real_weights):
    monkeypatch.chdir(tmp_path)
    args = ["run", "--content", "sample:grace_hopper", "--style", "rings=sample:rings",
            "--set", "image.max_size=32", "--set", "optimizer.iterations=3", "--set", "sweep.content_weight.steps=2",
            "--set", "movie.formats=[gif]", "--set", "runtime.progress=false"]
    assert cli.main(args) == 0
    out = tmp_path / "outputs" / "grace_hopper"
    assert capsys.readouterr().out.strip() == "wrote outputs/grace_hopper (2 frame(s) optimised, 0 failed)"
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["styles"]["rings"]["paintings"] == ["sample:rings"] and saved["image"]["max_size"] == 32
    frames = sorted((out / "rings" / "frames").iterdir())
    before = [p.read_bytes() for p in frames]
    # The saved config resumes into its own directory, with nothing left to optimise.
    assert cli.main(["run", str(out / "config.yaml")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (0 frame(s) optimised, 0 failed)"
    assert [p.read_bytes() for p in sorted((out / "rings" / "frames").iterdir())] == before
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["grace_hopper"]


def test_the_commented_artist_mapping_is_valid_once_uncommented():
    lines = starter_yaml().splitlines()
    start = lines.index("  # NAME:")
    block = [lines[start][:2] + lines[start][4:]]
    for line in lines[start + 1:]:
        if not line.startswith("  #   "):
            break
        block.append(line[:2] + line[4:])
    text = "content: sample:grace_hopper\nstyles:\n" + "\n".join(block) + "\n"
    artist = parse_config(text).styles["NAME"]
    assert artist.paintings[0].endswith("painting.jpg")
    assert artist.colors == "style" and artist.weights == [1.0]
