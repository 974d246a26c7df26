"""The command line as a user meets it."""
from .conftest import REPO, run_cli

QUICKSTART = REPO / "configs" / "quickstart.yaml"


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", QUICKSTART, "--dry-run", "--out", out, "--set", "image.max_size=96",
                     "--set", "sweep.content_weight.steps=5")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "jobs: 3 (1 photo(s) x 3 artist(s)), 15 frames" in text
    # the quickstart's spacing: even names its keyframes; the in-betweens are placed after them
    assert ("content weights (5, even): keyframes at 100, 0.1; the in-betweens are placed where the keyframes "
            "differ most, once they are done") in text
    log = run_cli("run", QUICKSTART, "--dry-run", "--out", out, "--set", "image.max_size=96",
                  "--set", "sweep.content_weight.steps=5", "--set", "sweep.content_weight.spacing=log")
    assert "content weights (5, log): 100, 17.8, 3.16, 0.562, 0.1" in log.stdout
    assert "96x" in text or "x96" in text
    assert "estimated time" in text and "estimated peak memory" in text
    assert not out.exists()


def test_python_dash_m_sweep_is_the_sweep_command():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "sweep", "--help"], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sweep ") and "{run,status,pick,init,doctor,weights}" in result.stdout


def test_weights_command_reports_a_verified_source():
    result = run_cli("weights")
    assert result.returncode == 0, result.stderr
    assert "d9a27cc1fc7f975ef8cff49180e794ccd7c4bc868ebb49740803b3bbaa8dbefd" in result.stdout
    assert "'imagenet' resolves to:" in result.stdout


def test_usage_errors_are_one_line():
    for args in (["frobnicate"], ["run"], ["run", QUICKSTART, "--set", "image.max_sise=3"]):
        result = run_cli(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, args
        assert lines[-1].startswith("error: "), result.stderr
        assert "Traceback" not in result.stderr
    assert "did you mean 'max_size'" in result.stderr


def test_an_unknown_keras_backend_is_one_error_line(tmp_path):
    for args in (["run", "--content", "sample:grace_hopper", "--style", "b=sample:brushstrokes", "--dry-run",
                  "--out", tmp_path / "out", "--set", "image.max_size=48"], ["doctor", "--no-benchmark"]):
        result = run_cli(*args, env={"KERAS_BACKEND": "foo"})
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "error: KERAS_BACKEND is 'foo'; sweep runs on tensorflow, jax or torch"], result.stderr
        assert not (tmp_path / "out").exists()


def test_an_unknown_option_of_a_command_points_to_that_command_s_help():
    for args, help_of in ((["run", "--bogus"], "sweep run"), (["pick", "JOB", "--frame", "1", "--zz"], "sweep pick"),
                          (["--bogus", "status", "DIR"], "sweep")):
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr
        unknown = next(arg for arg in args if arg in ("--bogus", "--zz"))
        assert result.stderr.strip().splitlines() == [
            f"error: unrecognized arguments: {unknown} (see `{help_of} --help`)"], result.stderr


def test_a_sweep_of_only_keyframes_plans_no_in_betweens(tmp_path):
    for steps, expected in ((1, "content weights (1, even): keyframes at 100; there are no in-betweens"),
                            (2, "content weights (2, even): keyframes at 100, 0.001; there are no in-betweens")):
        result = run_cli("run", "--content", "sample:grace_hopper", "--style", "b=sample:brushstrokes", "--dry-run",
                         "--out", tmp_path / "out", "--set", "image.max_size=48",
                         "--set", f"sweep.content_weight.steps={steps}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[1] == expected


def test_help_and_version_into_a_full_disk_are_one_error_line():
    import subprocess
    import sys

    for args in (["--help"], ["run", "--help"], ["--version"]):
        with open("/dev/full", "w") as full:
            refused = subprocess.run([sys.executable, "-m", "sweep", *args], stdout=full, stderr=subprocess.PIPE,
                                     text=True, timeout=120, cwd=REPO)
        assert (refused.returncode, refused.stderr) == (
            2, "error: cannot write to standard output: No space left on device\n"), args
