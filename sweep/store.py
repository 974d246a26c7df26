"""The frame store: where finished frames live, written atomically, and how a run resumes.

The layout of a run directory is `sweep.layout`'s; what its frames were made from,
`sweep.identity`'s. A frame is done when its PNG and its frames.json record both exist;
both are written with a rename, so a killed run leaves only whole files behind. Running
the same config into the same directory optimises only the frames that are missing.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from . import atomic, discard, identity, integrity, ownership
from .balance import suggest_balanced
from .identity import changed_inputs, config_hash, recipe_differs, recipe_of, recipe_refusal
from .config import Config
from .records import FrameResult
from .errors import SweepError
from .images import read_png, save_png
from . import motion
from .layout import (CONFIG_FILE, FRAMES_DIR, FrameRecord, MANIFEST_FILE, MOTION_FILE, MOVIE_KINDS,
                     RECORDS_FILE, frame_record, is_frame_filename, is_keyframes_job, load_records)

def _warn_of_dropped_jobs(manifest: dict, relative_dirs: list[str], warn: Callable[[str], None]) -> None:
    """The same config no longer has some of the directory's jobs: a gallery glob lost a
    photo, or gained one of the same name, which renames the folder (plan.photo_names)."""
    dropped = sorted(job for job in manifest.get("jobs", {})
                     if job not in relative_dirs and not is_keyframes_job(job))
    if dropped:
        warn(f"warning: {', '.join(dropped)}: not a job of this config now (a gallery's photo gone, or renamed "
             f"by a new photo of the same name); its frames stay, and the report leaves them out")


def read_json(path: Path, default):
    """A JSON file, or `default` when it is absent; a damaged one is an error."""
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"cannot read {path}: {exc}") from None


@dataclass
class Inspection:
    """A job's frame records, frame by frame (`JobStore.inspect`)."""
    well_formed: list[FrameRecord]   # in sweep order
    usable: list[FrameRecord]        # whose PNG is there, decodes and has the job's size
    damaged: dict[int, str]          # index -> why its PNG cannot be used
    absent: list[FrameRecord]        # whose PNG is gone: a missing frame, not a damaged one
    malformed: list[tuple[int | None, str]]   # what is wrong with frames.json or its other
                                              # records, each with the frame index it claims

    @property
    def problems(self) -> list[str]:
        """Every problem, one line each, as `JobStore.check` gives them."""
        return ([problem for _, problem in self.malformed]
                + [f"frame {index}: {problem}" for index, problem in self.damaged.items()])


@dataclass
class JobStore:
    directory: Path
    artist: dict | None = None   # Job.artist_record(), written into every frame record

    @property
    def frames_dir(self) -> Path:
        return self.directory / FRAMES_DIR

    @property
    def records_path(self) -> Path:
        return self.directory / RECORDS_FILE

    def load(self) -> tuple[list[FrameRecord], list[str]]:
        """Well-formed records of frames whose PNG exists, in sweep order, and what
        was wrong with the others (sweep/integrity.py)."""
        well_formed, problems = self._well_formed()
        return [r for r in well_formed if (self.directory / r["file"]).is_file()], [p for _, p in problems]

    def _well_formed(self) -> tuple[list[FrameRecord], list[tuple[int | None, str]]]:
        payload, problem = integrity.read_json_or_problem(self.records_path, [])
        records, problems = integrity.usable_records(payload)
        return records, [(None, problem)] * bool(problem) + problems

    def records(self) -> list[FrameRecord]:
        """Records of frames whose PNG exists, in sweep order (damaged ones left out)."""
        return self.load()[0]

    def check(self, shape: tuple[int, int] | None = None) -> tuple[list[FrameRecord], list[str]]:
        """`load`, with every PNG decoded and compared with the job's frame `shape`
        (by default the size most of its frames have)."""
        found = self.inspect(shape)
        return found.usable, found.problems

    def inspect(self, shape: tuple[int, int] | None = None) -> Inspection:
        """`check`, frame by frame."""
        well_formed, malformed = self._well_formed()
        on_disk = [r for r in well_formed if (self.directory / r["file"]).is_file()]
        shapes, damaged = {}, {}
        for record in on_disk:
            shapes[record["index"]], problem = integrity.frame_shape(self.directory / record["file"])
            if problem:
                damaged[record["index"]] = problem
        expected = shape or max(set(shapes.values()) - {None}, key=list(shapes.values()).count, default=None)
        for record in on_disk:
            found = shapes[record["index"]]
            if found is not None and tuple(found) != tuple(expected):
                damaged[record["index"]] = (f"{Path(record['file']).name} is {found[1]}x{found[0]}, "
                                            f"the job's frames are {expected[1]}x{expected[0]}")
        return Inspection(well_formed=well_formed, usable=[r for r in on_disk if r["index"] not in damaged],
                          damaged=damaged, absent=[r for r in well_formed if r not in on_disk], malformed=malformed)

    def repair(self, shape: tuple[int, int] | None = None) -> list[str]:
        """Drop damaged records from frames.json, so that their frames count as missing."""
        good, problems = self.check(shape)
        if problems:
            atomic.write_json(self.records_path, good)
        return problems

    def drop(self, indices: set[int]) -> None:
        """Forget frames `indices` (their records, then their PNGs): they will be optimised again."""
        if not indices:
            return
        records = self.records()
        atomic.write_json(self.records_path, [r for r in records if r["index"] not in indices])
        for record in (r for r in records if r["index"] in indices):
            (self.directory / record["file"]).unlink(missing_ok=True)

    def completed(self) -> set[int]:
        return {record["index"] for record in self.records()}

    def image(self, index: int):
        """Frame `index` as stored (uint8 RGB), or None when it is not done."""
        for record in self.records():
            if record["index"] == index:
                return read_png(self.directory / record["file"])
        return None

    def save(self, result: FrameResult) -> FrameRecord:
        record = frame_record(result.index, result.content_weight, result.content_loss, result.style_loss,
                              result.tv_loss, result.iterations, self.artist)
        save_png(self.directory / record["file"], result.image)
        records = {r["index"]: r for r in self.records()}
        records[result.index] = record
        atomic.write_json(self.records_path, [records[i] for i in sorted(records)])
        return record

    def write_motion(self) -> dict:
        """Write the movie's step, jitter and pace (`sweep.motion.summary` of the stored
        frames, in sweep order) to `JOB/motion.json`, atomically; returns them."""
        frames = [read_png(self.directory / record["file"]) for record in self.records()]
        measures = motion.summary(frames)
        atomic.write_json(self.directory / MOTION_FILE, measures)
        return measures

    def mark_suggested(self) -> int:
        """Flag the balanced frame (`sweep.balance`) in `frames.json`: ``"suggested": true``
        on it and false on every other record, written atomically. Returns its position."""
        records = load_records(self.directory)
        chosen = suggest_balanced(records)
        for position, record in enumerate(records):
            record["suggested"] = position == chosen
        atomic.write_json(self.records_path, records)
        return chosen


class RunStore:
    """One run directory: its config, its manifest and its jobs."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_FILE

    def job(self, relative_dir: str, artist: dict | None = None) -> JobStore:
        return JobStore(self.directory / relative_dir, artist)

    def rendered_movie_formats(self) -> list[str]:
        """The movie formats the directory's last run rendered, by its DIR/config.yaml
        (read before a new run replaces it); none when there is no readable one."""
        from .limits import safe_load_yaml

        try:
            raw = safe_load_yaml((self.directory / CONFIG_FILE).read_text(encoding="utf-8"), CONFIG_FILE)
        except (OSError, UnicodeDecodeError, SweepError):
            return []
        movie = raw.get("movie") if isinstance(raw, dict) else None
        formats = movie.get("formats") if isinstance(movie, dict) else None
        return [kind for kind in formats if kind in MOVIE_KINDS] if isinstance(formats, list) else []

    def _check_not_inside_a_run(self) -> None:
        """A run inside another run's folder would be files that run did not write: it
        would refuse to resume from then on."""
        around = integrity.run_dir_around(self.directory)
        if around is not None:
            raise SweepError(f"{self.directory} is inside the run directory {around}, which would then refuse "
                             f"to resume; choose an --out outside it")

    def check_writable(self) -> None:
        """Refuse an output directory we cannot write, without creating it.

        A refused run must leave nothing behind, so a directory that does not exist
        yet is not made here (`open` makes it): its nearest existing ancestor must be
        a directory in which we can create one. The probes are temporaries that are
        removed at once.
        """
        target = self.directory
        self._check_not_inside_a_run()
        try:
            if target.exists():
                if not target.is_dir():
                    raise SweepError(f"cannot write to output directory {target}: it exists and is not a directory")
                with atomic.probe_file(target):
                    return
            ancestor = target.absolute().parent
            while not ancestor.exists():
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise SweepError(f"cannot create output directory {target}: {ancestor} is not a directory")
            with atomic.signals_deferred():
                Path(tempfile.mkdtemp(prefix=atomic.TEMP_MARKER, dir=ancestor)).rmdir()
        except OSError as exc:
            raise SweepError(f"cannot write to output directory {target}: {exc.strerror or exc}") from None

    def open(self, config: Config, weights_sha256: str, relative_dirs: list[str], force: bool = False,
             inputs: dict[str, str] | None = None, frame_shapes: dict[str, tuple[int, int]] | None = None,
             warn: Callable[[str], None] = lambda message: None) -> dict:
        """Check that this directory holds frames of the same config, weights and input
        pixels (`inputs`: job -> digest of its photo and painting) or none, and no file
        that sweep did not write (sweep/ownership.py); then clean up after a killed run,
        drop damaged frame records (a `warn` line each) and write the config and manifest.

        Frames of another config, other weights or other inputs are refused (a
        `SweepError`, before anything is written) unless `force`, which deletes them
        first, so that frames of two configs never mix. Frames without a manifest
        cannot be attributed and are refused the same way.
        """
        manifest, orphans, changed = self.check_resume(config, relative_dirs, force, inputs, weights_sha256)
        digest = config_hash(config)
        self.check_writable()
        atomic.remove_stray_temporaries(self.directory)
        if manifest is not None and (manifest.get("config_hash") != digest
                                     or recipe_differs(manifest, lambda: self._has_frames(relative_dirs))
                                     or manifest.get("weights_sha256") != weights_sha256):
            earlier_jobs = set(manifest.get("jobs", {}))
            discard.discard_frames(self.directory, earlier_jobs | set(relative_dirs))
            # the folders of jobs the new config no longer has: a renamed artist's, say
            discard.remove_emptied_folders(self.directory, earlier_jobs - set(relative_dirs))
            manifest = {"files": manifest.get("files", []), "picks": manifest.get("picks", [])}
        elif orphans:
            discard.discard_frames(self.directory, set(relative_dirs))
        elif manifest is not None:
            _warn_of_dropped_jobs(manifest, relative_dirs, warn)
        discard.discard_frames(self.directory, set(changed))
        manifest = self._reconcile(manifest or {}, digest, weights_sha256, relative_dirs, changed,
                                   inputs or {}, frame_shapes or {}, warn, tuple(config.movie.formats))
        atomic.write_text(self.directory / CONFIG_FILE, config.to_yaml())
        atomic.write_json(self.manifest_path, manifest)
        return manifest

    def check_resume(self, config: Config, relative_dirs: list[str], force: bool = False,
                     inputs: dict[str, str] | None = None,
                     weights_sha256: str | None = None) -> tuple[dict | None, bool, list[str]]:
        """`open`'s refusals, writing nothing (`sweep run --dry-run` runs them too; the
        weights only when `weights_sha256` is given). Returns (the manifest or None,
        whether frames without a manifest are there, the jobs whose inputs changed)."""
        manifest = self._read_manifest(force)
        orphans = manifest is None and self._has_frames(relative_dirs)
        changed = changed_inputs(manifest, inputs or {})
        if not force:
            if orphans:
                raise SweepError(f"{self.directory} holds frames but no {MANIFEST_FILE}, so their config is unknown; "
                                 f"choose another --out, or pass --force to replace them")
            if manifest is not None and manifest.get("config_hash") != config_hash(config):
                raise SweepError(f"{self.directory} holds frames of a different config; choose another --out, "
                                 f"or pass --force to replace them")
            if recipe_differs(manifest, lambda: self._has_frames(relative_dirs)):
                raise SweepError(recipe_refusal(self.directory, recipe_of(manifest)))
            if manifest is not None and weights_sha256 is not None and \
                    manifest.get("weights_sha256") != weights_sha256:
                raise SweepError(f"{self.directory} was rendered with other VGG16 weights; "
                                 f"pass --force to replace its frames")
            if changed:
                raise SweepError(f"the photo or painting of {self.directory / changed[0]} has other pixels than "
                                 f"when its frames were rendered (same file name, new image); choose another "
                                 f"--out, or pass --force to replace its frames")
        ownership.check(self.directory, manifest, relative_dirs, force, tuple(config.movie.formats))
        return manifest, orphans, changed

    def check_case_collisions(self, relative_dirs: list[str]) -> None:
        """Jobs whose folders differ only in case (artists `Monet` and `monet`, photos
        `Photo.png` and `photo.jpg`) are one folder where the file system ignores case
        (macOS's and Windows' by default), and their frames would mix. Checked before the
        run makes its folder (`api.run`, `api.check_out_dir`)."""
        seen: dict[str, str] = {}
        for relative_dir in (d for d in relative_dirs if not is_keyframes_job(d)):
            other = seen.setdefault(relative_dir.lower(), relative_dir)
            if other != relative_dir and self._ignores_case():
                raise SweepError(f"the jobs {other!r} and {relative_dir!r} differ only in case, and the file system "
                                 f"of {self.directory} ignores case: they would share one folder; rename one of "
                                 f"the artists, or one of the photos")

    def _ignores_case(self) -> bool:
        """Whether the file system this run writes to ignores case: a probe file in the
        directory (or the nearest folder above it that exists), looked up in upper case."""
        folder = self.directory.absolute()
        while not folder.is_dir():
            folder = folder.parent
        try:
            with atomic.probe_file(folder, "case-probe-") as probe:
                return os.path.exists(os.path.join(folder, os.path.basename(probe).upper()))
        except OSError:
            return False   # a folder it cannot write: the run is refused for that, by name

    def _read_manifest(self, force: bool) -> dict | None:
        """The manifest, None when absent; a damaged one is refused, or with `force` replaced."""
        manifest, problem = integrity.read_json_or_problem(self.manifest_path, None)
        if problem is None and manifest is not None:
            problem = integrity.manifest_problem(manifest)
        if problem is None:
            return manifest
        if not force:
            raise SweepError(f"{self.manifest_path} is damaged ({problem}); pass --force to replace "
                             f"the frames in {self.directory}")
        return {"jobs": {}}  # of no config: its frames are discarded below

    def _reconcile(self, manifest: dict, digest: str, weights_sha256: str, relative_dirs: list[str],
                   changed: list[str], inputs: dict[str, str], frame_shapes: dict, warn,
                   movie_kinds: tuple[str, ...]) -> dict:
        """The manifest of this run: ownership, input digests, and every frame's status
        as the frame store says (damaged records dropped with a warning)."""
        ownership.record(manifest, relative_dirs, self.directory, movie_kinds)   # by the manifest as it was
        manifest.update(config_hash=digest, weights_sha256=weights_sha256, frame_recipe=identity.FRAME_RECIPE)
        jobs = manifest.setdefault("jobs", {})
        for relative_dir in relative_dirs:
            job = jobs.setdefault(relative_dir, {"frames": {}})
            if relative_dir in changed:
                job["frames"] = {}
            if relative_dir in inputs:
                job["inputs_sha256"] = inputs[relative_dir]
            for problem in self.job(relative_dir).repair(frame_shapes.get(relative_dir)):
                warn(f"warning: {relative_dir}: {problem}; that frame will be "
                     + ("copied back from its job or optimised again" if is_keyframes_job(relative_dir)
                        else "optimised again"))
            frames = job["frames"]
            done = {record["index"]: record for record in self.job(relative_dir).records()}
            for index in [i for i, entry in frames.items() if entry["status"] == "done" and int(i) not in done]:
                del frames[index]
            # A run killed between saving a frame and noting it: the frame store is the truth.
            for index, record in done.items():
                if frames.get(str(index), {}).get("status") != "done":
                    frames[str(index)] = {"status": "done", "content_weight": record["content_weight"]}
        return manifest

    def _has_frames(self, relative_dirs: list[str]) -> bool:
        return any(self.job(d).records_path.exists() or
                   (self.job(d).frames_dir.is_dir() and
                    any(is_frame_filename(path.name) for path in self.job(d).frames_dir.iterdir()))
                   for d in relative_dirs)

    def save_manifest(self, manifest: dict) -> None:
        atomic.write_json(self.manifest_path, manifest)

    def record(self, manifest: dict, relative_dir: str, result: FrameResult) -> None:
        """Note a frame's status in the manifest (saved at once)."""
        entry = {"status": result.status, "content_weight": result.content_weight}
        if result.message:
            entry["message"] = result.message
        manifest["jobs"].setdefault(relative_dir, {"frames": {}})["frames"][str(result.index)] = entry
        atomic.write_json(self.manifest_path, manifest)
