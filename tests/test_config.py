"""Config schema: defaults, types, overrides, paths and refusals."""
import pytest

from sweep.artist import Artist
from sweep.config import MAX_IMAGE_SIDE, Config, load_config, parse_config, sweep_values, ContentWeightSweep
from sweep.errors import SweepError

MINIMAL = "content: photo.jpg\nstyles: {van_gogh: starry.jpg}\n"


@pytest.mark.parametrize("override, message", [
    ("keyframes.every=0", "'keyframes.every' must be at least 1; got 0"),
    ("keyframes.in_between_fraction=0", "'keyframes.in_between_fraction' must be > 0 and <= 1; got 0"),
    ("keyframes.coupling=-1", "'keyframes.coupling' must be >= 0; got -1"),
    ("keyframes.tolerance=-0.001", "'keyframes.tolerance' must be >= 0; got -0.001"),
    ("keyframes.noise_below=-1", "'keyframes.noise_below' must be >= 0; got -1"),
    ("optimizer.tolerance=-1", "'optimizer.tolerance' must be >= 0 (0 = never stop early); got -1"),
    ("optimizer.patience=0", "'optimizer.patience' must be at least 1; got 0"),
    ("movie.crossfade=-1", "'movie.crossfade' must be >= 0; got -1"),
    ("runtime.memory_budget_mb=-5", "'runtime.memory_budget_mb' must be >= 0 (0 = automatic); got -5"),
    ("sweep.content_weight.stop=0", "'sweep.content_weight.start' and 'stop' must be > 0 (for a frame that is "
                                    "nearly all style, use a small weight such as 0.001); got start=100, stop=0"),
    ("init=blend", "'init' must be one of keyframes, content, noise, chain; got 'blend'"),
])
def test_bad_settings_are_refused_naming_the_value(tmp_path, override, message):
    with pytest.raises(SweepError) as error:
        parse_config(MINIMAL, base_dir=tmp_path, overrides=[override])
    assert str(error.value) == message


def test_defaults_fill_every_section(tmp_path):
    config = parse_config(MINIMAL, base_dir=tmp_path)
    assert config.sweep.content_weight.start == 100 and config.sweep.content_weight.stop == 0.001
    assert config.sweep.content_weight.steps == 30 and config.sweep.content_weight.spacing == "even"
    assert config.optimizer.name == "lbfgs" and config.init == "keyframes"
    assert config.keyframes.every == 5 and config.keyframes.continuation
    assert config.model.content_layers == ["block4_conv2"]
    assert config.movie.formats == ["mp4", "gif"]
    assert config.content == str((tmp_path / "photo.jpg").resolve())
    assert config.styles["van_gogh"].paintings == [str((tmp_path / "starry.jpg").resolve())]


def test_samples_are_not_resolved_as_paths(tmp_path):
    config = parse_config("content: sample:grace_hopper\nstyles: {a: sample:voronoi}\n", base_dir=tmp_path)
    assert config.content == "sample:grace_hopper" and config.styles["a"].paintings == ["sample:voronoi"]


def test_log_sweep_runs_from_start_to_stop():
    values = sweep_values(ContentWeightSweep(start=100, stop=0.1, steps=4))
    assert values == pytest.approx([100, 10, 1, 0.1])
    assert sweep_values(ContentWeightSweep(start=100, stop=0.1, steps=1)) == [100]
    linear = sweep_values(ContentWeightSweep(start=10, stop=0, steps=3, spacing="linear"))
    assert linear == pytest.approx([10, 5, 0])


def test_overrides_by_dotted_path(tmp_path):
    config = parse_config(MINIMAL, base_dir=tmp_path, overrides=[
        "image.max_size=96", "sweep.content_weight.steps=5", "optimizer.iterations=40",
        "optimizer.name=adam", "movie.formats=[gif]", "styles.turner=ship.jpg"])
    assert config.image.max_size == 96 and config.sweep.content_weight.steps == 5
    assert config.optimizer.iterations == 40 and config.optimizer.name == "adam"
    assert config.movie.formats == ["gif"]
    assert set(config.styles) == {"van_gogh", "turner"}


def test_resolved_config_round_trips(tmp_path):
    config = parse_config(MINIMAL, base_dir=tmp_path, overrides=["seed=3"])
    again = parse_config(config.to_yaml(), base_dir="/elsewhere")
    assert again == config


@pytest.mark.parametrize("text, fragment", [
    (MINIMAL + "optimiser: {name: adam}\n", "did you mean 'optimizer'"),
    (MINIMAL + "image: {max_sise: 64}\n", "did you mean 'max_size'"),
    (MINIMAL + "image: {max_size: big}\n", "'image.max_size' must be an integer; got 'big'"),
    (MINIMAL + "movie: {boomerang: 3}\n", "'movie.boomerang' must be true or false"),
    ("styles: {a: b.jpg}\n", "missing required config key 'content'"),
    ("content: a.jpg\nstyles: {}\n", "'styles' is empty"),
    (MINIMAL + "optimizer: {name: sgd}\n", "must be one of lbfgs, adam; got 'sgd'"),
    (MINIMAL + "model: {precision: half}\n", "must be one of float32, bfloat16, auto; got 'half'"),
    (MINIMAL + "sweep: {content_weight: {start: 0}}\n", "and 'stop' must be > 0"),
    (MINIMAL + "sweep: {content_weight: {steps: 0}}\n", "steps' must be at least 1"),
    (MINIMAL + "optimizer: {iterations: 0}\n", "iterations' must be at least 1"),
    (MINIMAL + "image: {max_size: 8}\n", "between 16 and"),
    (MINIMAL + f"image: {{max_size: {MAX_IMAGE_SIDE * 10}}}\n", "between 16 and"),
    (MINIMAL + "model: {style_layers: [block9_conv1]}\n", "unknown VGG16 layer 'block9_conv1'"),
    ("content: a.jpg\nstyles: {../evil: b.jpg}\n", "not a safe directory name"),
    ("content: a.jpg\nstyles: {/abs: b.jpg}\n", "not a safe directory name"),
    ("content: a.jpg\nstyles: [a.jpg]\n", "'styles' must be a mapping"),
    ("content: [a.jpg\n", "YAML syntax error in <config> at line 2"),
    ("- just\n- a list\n", "must be a mapping of keys to values"),
    ("content: a.jpg\nstyles: {a: {paintings: [b.jpg, c.jpg], weights: [1.0e+308, 1.0e+308]}}\n",
     "positive sum that is finite"),
    (MINIMAL + "sweep: {content_weight: {start: 5, stop: 5, steps: 3}}\n", "both 5: a sweep of 3 steps needs two"),
    ("content: a.jpg\nstyles: {' a ': b.jpg}\n", "or a space at either end"),
    # 100 letters, but 300 bytes in UTF-8: over a folder name's limit of 255
    ("content: a.jpg\nstyles: {" + "東" * 100 + ": b.jpg}\n", "too long for a folder name: 100 characters, 300 bytes"),
    # PyYAML would keep the second and drop the first artist without a word
    (MINIMAL + "styles: {monet: water.jpg}\n", "at line 3, column 1: the key 'styles' is given twice"),
    ("content: a.jpg\nstyles: {a: b.jpg, a: c.jpg}\n", "the key 'a' is given twice"),
    (MINIMAL + "movie: {formats: gif}\n", "'movie.formats' must be a list of any of mp4, gif; got 'gif' (str)"),
])
def test_refusals_name_the_problem(text, fragment):
    with pytest.raises(SweepError) as info:
        parse_config(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_numbers_in_exponent_form_are_numbers_where_a_number_is_wanted():
    """YAML 1.1 reads `1e-5` as a string; a number field takes it as the number it looks
    like, while a name or a path such as `2e3` stays the text it is, also once the
    product has written it back unquoted (DIR/config.yaml, a config without a file)."""
    config = parse_config(MINIMAL + "optimizer: {tolerance: 1e-5}\n",
                          overrides=["sweep.content_weight.start=.5e3", "sweep.content_weight.stop=5E-4"])
    assert config.optimizer.tolerance == 1e-5
    assert (config.sweep.content_weight.start, config.sweep.content_weight.stop) == (500.0, 5e-4)
    with pytest.raises(SweepError, match="'seed' must be an integer; got '1e3'"):
        parse_config(MINIMAL + "seed: 1e3\n")
    named = parse_config("content: 2e3.png\nstyles: {2e3: 1e5}\n", base_dir="/p")
    assert named.content == "/p/2e3.png" and list(named.styles) == ["2e3"]
    assert named.styles["2e3"].paintings == ["/p/1e5"]
    assert list(parse_config(named.to_yaml(), base_dir="/p").styles) == ["2e3"]


def test_a_key_given_twice_in_a_set_value_is_refused():
    with pytest.raises(SweepError, match="--set styles at line 1, column 13: the key 'a' is given twice"):
        parse_config(MINIMAL, overrides=["styles={a: s1.png, a: s2.png}"])
    # text that is not YAML is still taken as it is (a path with colons and spaces)
    assert parse_config(MINIMAL, overrides=["content=a: b: c.png"]).content.endswith("a: b: c.png")


def test_unknown_layer_lists_the_valid_ones():
    with pytest.raises(SweepError, match="block5_conv3"):
        parse_config(MINIMAL + "model: {content_layers: [conv4_2]}\n")


@pytest.mark.parametrize("override, fragment", [
    ("image.colour=3", "unknown config key 'image.colour'"),
    ("nothing", "--set expects KEY=VALUE"),
    ("seed.x=1", "'seed' must be an integer"),
    ("styles.van_gohg.colors=photo", "unknown config key 'styles.van_gohg'; did you mean 'van_gogh'"),
])
def test_bad_overrides(override, fragment):
    with pytest.raises(SweepError, match=fragment):
        parse_config(MINIMAL, overrides=[override])


def test_missing_config_file(tmp_path):
    with pytest.raises(SweepError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(SweepError, match="is a directory, not a config file .a run directory's is its config.yaml"):
        load_config(tmp_path)   # `sweep run RUN_DIR`, where RUN_DIR/config.yaml was meant


def test_config_is_a_plain_dataclass():
    config = Config(content="a.jpg", styles={"x": Artist(paintings=["b.jpg"])})
    assert config.content_weights()[0] == 100
