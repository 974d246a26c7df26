"""Compilations stay bounded: under JAX (on the CPU, in a subprocess so the backend can
be chosen), a run with early stopping, two chunks and two scales compiles each of its
functions once per distinct (batch bucket, frame size) at most, never per chunk or
per iteration."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from sweep.compiles import Compilations, shapes, since, snapshot, traced

from .conftest import REPO

pytestmark = pytest.mark.slow

CHUNK = 4
FRAMES = 6      # chunks of 4 and 2 frames (init: content, so every frame is in one pass)
ITERATIONS = 30

RUN = textwrap.dedent(f"""
    import json, sys
    import keras
    import sweep.api
    from sweep.config import parse_config
    config = parse_config('''
    content: sample:grace_hopper
    styles: {{brushstrokes: sample:brushstrokes}}
    sweep: {{content_weight: {{start: 100, stop: 0.1, steps: {FRAMES}}}}}
    image: {{max_size: 32}}
    optimizer: {{iterations: {ITERATIONS}, tolerance: 0.01, patience: 2, scales: [0.5, 1.0]}}
    init: content
    movie: {{formats: [gif]}}
    runtime: {{chunk_size: {CHUNK}, progress: false}}
    ''')
    result = sweep.api.run(config, sys.argv[1], log=lambda message: None)
    assert not result.failed, result.failed
    print(json.dumps({{"backend": keras.backend.backend(),
                      "traces": [[name, [list(s) for s in signature], count]
                                 for (name, signature), count in result.compilations.items()]}}))
""")


def test_jax_compiles_once_per_batch_bucket_and_frame_size(tmp_path, real_weights):
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO),
               KERAS_HOME=os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")),
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax_cache"))
    done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "out")], capture_output=True, text=True,
                          env=env, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax"
    traces = report["traces"]

    # Early stopping happened (frames stopped before the last iteration) ...
    frames = json.loads((tmp_path / "out" / "brushstrokes" / "frames.json").read_text())
    assert len(frames) == FRAMES
    assert min(frame["iterations"] for frame in frames) < ITERATIONS
    # ... and every signature was compiled once, whatever the chunk or the iteration.
    assert all(count == 1 for _, _, count in traces), traces
    objective = {tuple(signature[0]) for name, signature, count in traces if name == "objective"}
    sizes = {(height, width) for _, height, width, _ in objective}
    batches = {batch for batch, _, _, _ in objective}
    assert sizes == {(16, 16), (32, 27)}   # the two scales of the 32 x 27 frame (16 px at least)
    assert batches <= {1, 2, 4} and len(batches) > 1   # powers of two up to the chunk: buckets
    assert len(objective) <= 2 * 3   # at most one trace per (frame size, batch bucket)
    for name in {name for name, _, _ in traces}:
        assert sum(count for other, _, count in traces if other == name) <= len(objective), name


def test_counting_records_each_trace_by_shape():
    """The counter itself, without a backend: a body that runs is one trace."""
    import numpy as np

    before = snapshot()
    body = traced("probe", lambda x, pair: x)
    body(np.zeros((2, 4, 4, 3)), (np.zeros(2), 1.0))
    body(np.zeros((2, 4, 4, 3)), (np.zeros(2), 1.0))
    body(np.zeros((1, 4, 4, 3)), (np.zeros(1), 1.0))
    counted = since(before)
    assert isinstance(counted, Compilations)
    assert counted.total == 3 and counted.by_function() == {"probe": 3}
    assert counted.repeated() == [("probe", ((2, 4, 4, 3), (2,), ()))]
    assert counted.summary()["repeated"] == ["probe [2, 4, 4, 3]"]
    assert shapes({"b": np.zeros(3), "a": [np.zeros((1, 2))]}) == ((1, 2), (3,))


def test_the_default_backend_traces_the_objective_once_per_shape():
    """In this process's backend (TensorFlow's tf.function by default): the same batch
    shape again is no new trace, whatever the content weights; torch traces nothing."""
    import keras
    import numpy as np

    from sweep.artist import Artist
    from sweep.config import Config, ModelSection
    from sweep.engine import SweepEngine, to_float_images
    from sweep.model import build_extractor

    model = ModelSection(content_layers=["block1_conv1"], style_layers=["block1_conv1", "block2_conv1"])
    engine = SweepEngine(Config(content="x", styles={"a": Artist(paintings=["y"])}, model=model),
                         build_extractor(model))
    rng = np.random.default_rng(0)
    photo = to_float_images(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    targets = engine.targets(photo, to_float_images(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)))
    settings = lambda weights: (keras.ops.convert_to_tensor(np.float32(weights)),  # noqa: E731
                                keras.ops.convert_to_tensor(np.float32(1.0)),
                                keras.ops.convert_to_tensor(np.float32(0.1)), targets.as_args())
    before = snapshot()
    for weights in ([100.0, 1.0], [10.0, 0.1], [3.0]):
        engine.evaluate_objective(keras.ops.repeat(photo, len(weights), axis=0), *settings(weights))
    counted = since(before)
    if keras.backend.backend() == "torch":
        assert counted.total == 0
        return
    assert counted.repeated() == []
    assert 1 <= counted.by_function()["objective"] <= 2   # batches 2 and 1; the second batch-2 call reuses
