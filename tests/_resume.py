"""Kill a run after some frames were stored, resume it, compare with a clean run."""
from __future__ import annotations

import json
import shutil

import sweep


def resume_matches_clean(tmp_path, config_text: str, keep, job: str = "rings"):
    """Run `config_text` cleanly; copy the run, drop JOB's frames whose record fails
    `keep(record)` (as a kill before they were stored would), and resume the copy. Every
    frame must come out byte-identical to the clean run's. Returns the resume's result."""
    (tmp_path / "c.yaml").write_text(config_text)
    clean = sweep.run(tmp_path / "c.yaml", tmp_path / "clean").out_dir / job
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(clean.parent, resumed_dir)
    resumed = resumed_dir / job
    records = json.loads((resumed / "frames.json").read_text())
    for record in records:
        if not keep(record):
            (resumed / record["file"]).unlink()
    (resumed / "frames.json").write_text(json.dumps([r for r in records if keep(r)]))

    result = sweep.run(tmp_path / "c.yaml", resumed_dir)
    for record in records:
        assert (resumed / record["file"]).read_bytes() == (clean / record["file"]).read_bytes(), record["file"]
    return result
