"""The sweep movie: stored frames -> MP4 (H.264) or animated GIF.

Timeline (`movie_plan`), for n sweep frames at `fps`:

- ``crossfade = k`` inserts k linearly interpolated frames between consecutive
  sweep frames: one pass through the sweep is ``n + (n - 1) * k`` frames.
- ``hold`` seconds pause the movie wherever it stops: ``h = round(hold * fps)``
  extra copies of the first frame at the start and of the last frame at the end.
- ``boomerang`` plays the pass forward, holds the turn-around (style) frame, then
  plays it backward to the photo without repeating the turn-around frame, and holds
  the photo at the end: ``2 * pass - 1 + 3 * h`` frames. Without boomerang the movie
  is ``pass + 2 * h`` frames.

Small frames make unwatchable videos, so frames whose short side is under
`min_short_side` (256 px by default) are upscaled by the smallest integer factor that
reaches it, with nearest-neighbour sampling (crisp pixels, no blur), in both MP4 and
GIF. For MP4 the result is then padded by one pixel (edge colour) on the right and/or
bottom if a dimension is odd, as yuv420p needs even dimensions. Labels are drawn after
upscaling, so they are sharp whatever the frame size.

MP4: libx264, yuv420p, CRF 18, BT.709 colour tags, ``-movflags +faststart`` (the index
is at the front, so browsers start playing before the download ends).
GIF: looped forever, each frame shown 1/fps s (GIF stores hundredths of a second: the
delays are rounded on the running total, see `gif_durations`); Pillow merges identical
consecutive frames (the holds) into one frame with the summed delay, so the playing
time is unchanged.

Every file is written to a temporary next to the destination and renamed on success.
"""
from __future__ import annotations

import errno
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from sweep.atomic import atomic_path
from sweep.errors import SweepError
from sweep.render.frames import draw_label, upscale_factor, upscale_nearest

FORMATS = ("mp4", "gif")
MIN_SHORT_SIDE = 256
MP4_CRF = 18

# One movie frame: (a, b, t) = (1 - t) * frames[a] + t * frames[b].
Step = tuple[int, int, float]


# --------------------------------------------------------------------------- timeline

def _check_timing(n_frames: int, fps: float, hold: float, crossfade: int) -> None:
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise SweepError(f"a movie needs at least one frame, got {n_frames!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise SweepError(f"movie fps must be a positive number, got {fps!r}")
    if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not math.isfinite(hold) or hold < 0:
        raise SweepError(f"movie hold must be a number of seconds >= 0, got {hold!r}")
    if isinstance(crossfade, bool) or not isinstance(crossfade, (int, np.integer)) or crossfade < 0:
        raise SweepError(f"movie crossfade must be a whole number of frames >= 0, got {crossfade!r}")


def hold_frames(fps: float, hold: float) -> int:
    """Extra copies of a frame that pause the movie `hold` seconds: round(hold * fps)."""
    return int(round(hold * fps))


def movie_frame_count(n_frames: int, fps: float, hold: float, crossfade: int, boomerang: bool) -> int:
    """Number of frames in the movie of `n_frames` sweep frames (see the module docstring)."""
    _check_timing(n_frames, fps, hold, crossfade)
    one_pass = n_frames + (n_frames - 1) * crossfade
    h = hold_frames(fps, hold)
    if boomerang:
        return 2 * one_pass - 1 + 3 * h
    return one_pass + 2 * h


def movie_plan(n_frames: int, fps: float, hold: float, crossfade: int, boomerang: bool) -> list[Step]:
    """The movie, frame by frame, as (a, b, t) blends of sweep frames a and b."""
    _check_timing(n_frames, fps, hold, crossfade)
    forward: list[Step] = []
    for a in range(n_frames):
        forward.append((a, a, 0.0))
        if a + 1 < n_frames:
            for k in range(1, crossfade + 1):
                forward.append((a, a + 1, k / (crossfade + 1)))
    h = hold_frames(fps, hold)
    first, last = forward[0], forward[-1]
    plan = [first] * h + forward + [last] * h
    if boomerang:
        plan += forward[-2::-1] + [first] * h
    return plan


def step_label(labels: Sequence[str] | None, step: Step) -> str | None:
    """Label of a movie frame: the label of the nearer sweep frame (a on a tie)."""
    if labels is None:
        return None
    a, b, t = step
    return labels[b] if t > 0.5 else labels[a]


def blend(frames: Sequence[np.ndarray], step: Step) -> np.ndarray:
    """(1 - t) * frames[a] + t * frames[b], rounded to uint8."""
    a, b, t = step
    if a == b or t == 0:
        return frames[a]
    if t == 1:
        return frames[b]
    mixed = (1.0 - t) * frames[a].astype(np.float32) + t * frames[b].astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- frames

def _check_frames(frames: Sequence[np.ndarray], labels: Sequence[str] | None) -> None:
    if not frames:
        raise SweepError("a movie needs at least one frame, got none")
    shape = np.shape(frames[0])
    if len(shape) != 3 or shape[2] != 3:
        raise SweepError(f"movie frames must be (H, W, 3) RGB arrays, got shape {shape}")
    for i, frame in enumerate(frames):
        if np.shape(frame) != shape:
            raise SweepError(f"movie frame {i} is {np.shape(frame)}, frame 0 is {shape}: all frames must match")
    if labels is not None and len(labels) != len(frames):
        raise SweepError(f"got {len(labels)} labels for {len(frames)} frames")


def pad_even(image: np.ndarray) -> np.ndarray:
    """Pad one edge-coloured row/column at the bottom/right where a dimension is odd."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def iter_movie_frames(frames: Sequence[np.ndarray], labels: Sequence[str] | None = None, *,
                      fps: float = 12, hold: float = 1.0, crossfade: int = 0, boomerang: bool = False,
                      min_short_side: int = MIN_SHORT_SIDE, even: bool = False) -> Iterator[np.ndarray]:
    """The finished movie frames (blended, upscaled, labelled, padded if `even`), lazily."""
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    _check_frames(frames, labels)
    _check_timing(len(frames), fps, hold, crossfade)
    factor = upscale_factor(*frames[0].shape[:2], min_short_side)

    def render(step: Step) -> np.ndarray:
        image = upscale_nearest(blend(frames, step), factor)
        label = step_label(labels, step)
        return draw_label(image, label, "bottom-left") if label else image

    plan = movie_plan(len(frames), fps, hold, crossfade, boomerang)
    return iter_steps(render, plan, even=even)


def iter_steps(render: Callable[[Step], np.ndarray], plan: Sequence[Step], *,
               even: bool = False) -> Iterator[np.ndarray]:
    """`render(step)` for every step of `plan` (padded to even dimensions if `even`).

    A step that shows one sweep frame unblended is rendered once and reused (holds,
    the boomerang's way back); interpolated steps are rendered when reached.
    """
    cache: dict[int, np.ndarray] = {}
    for step in plan:
        a, b, t = step
        single = a if (a == b or t == 0) else (b if t == 1 else None)
        image = cache.get(single) if single is not None else None
        if image is None:
            image = render(step)
            if even:
                image = pad_even(image)
            image = np.ascontiguousarray(image, dtype=np.uint8)
            if single is not None:
                cache[single] = image
        yield image


# --------------------------------------------------------------------------- encoding

def movie_format(path: str | os.PathLike) -> str:
    """"mp4" or "gif" from the file suffix; SweepError for anything else."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise SweepError(f"movie path {os.fspath(path)!r} must end in .mp4 or .gif, got {suffix or 'no suffix'!r}")
    return suffix


def encode_movie(images: Iterable[np.ndarray], path: str | os.PathLike, *, fps: float) -> int:
    """Write finished frames (same size, uint8 RGB; even dimensions for MP4) to `path`
    atomically, in the format its suffix names. Returns the number of frames written."""
    kind = movie_format(path)
    iterator = iter(images)
    try:
        first = next(iterator)
    except StopIteration:
        raise SweepError("a movie needs at least one frame, got none") from None
    with atomic_path(path) as tmp:
        if kind == "mp4":
            count = _write_mp4(first, iterator, tmp, fps)
        else:
            count = _write_gif(first, iterator, tmp, fps)
    return count


def _write_mp4(first: np.ndarray, rest: Iterator[np.ndarray], path: Path, fps: float) -> int:
    """Pipe the frames into ffmpeg and check that it succeeded: its exit status, not
    only our writes, since a full disk makes ffmpeg fail while the pipe stays open."""
    height, width = first.shape[:2]
    if height % 2 or width % 2:
        raise SweepError(f"H.264/yuv420p needs even dimensions, got {width}x{height}")
    command = [_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-vcodec", "rawvideo",
               "-s", f"{width}x{height}", "-pix_fmt", "rgb24", "-r", f"{float(fps):.02f}", "-i", "-",
               "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p", *_ffmpeg_output_args(path)]
    count, complete = 0, False
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            for image in _same_size(first, rest):
                process.stdin.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
                count += 1
            process.stdin.close()
            complete = True
            code = process.wait()
        except BrokenPipeError:  # ffmpeg gave up; its own message says why
            code = process.wait()
        finally:
            if process.poll() is None:  # interrupted, or a frame of the wrong size
                process.kill()
                process.wait()
        if code != 0 or not complete:
            errors.seek(0)
            said = [line.strip() for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
            raise OSError(errno.EIO, f"ffmpeg exited with status {code}" + (f": {said[-1]}" if said else ""))
    return count


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _ffmpeg_output_args(path: Path) -> list[str]:
    return [
        "-f", "mp4",
        "-vf", ("scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
                "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"),
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-color_range", "tv",
        "-crf", str(MP4_CRF), "-preset", "medium",
        "-movflags", "+faststart",
        str(path),
    ]


def gif_durations(count: int, fps: float) -> list[int]:
    """Per-frame GIF delays in ms for `count` frames at `fps`.

    GIF stores delays in hundredths of a second, so 1/fps is rounded on the running
    total (12 fps -> 80, 90, 80, 80, 90, 80 ... ms): the GIF keeps the MP4's pace
    instead of drifting. Delays are at least 20 ms, as browsers slow down shorter
    ones, so a GIF plays at 50 fps at most.
    """
    ticks = [round(k * 100 / fps) for k in range(count + 1)]
    return [10 * max(2, b - a) for a, b in zip(ticks, ticks[1:])]


def _write_gif(first: np.ndarray, rest: Iterator[np.ndarray], path: Path, fps: float) -> int:
    images = [Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)) for image in _same_size(first, rest)]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=gif_durations(len(images), fps), disposal=1, optimize=False)
    return len(images)


def _same_size(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    for image in rest:
        if image.shape != first.shape:
            raise SweepError(f"movie frames differ in size: {image.shape} after {first.shape}")
        yield image


def write_movie(frames: list[np.ndarray], labels: list[str] | None, path: str | os.PathLike, *,
                fps: float = 12, hold: float = 1.0, crossfade: int = 0, boomerang: bool = False,
                min_short_side: int = MIN_SHORT_SIDE) -> int:
    """Write the sweep movie of `frames` (sweep order) to `path` (.mp4 or .gif).

    `labels` (one per frame, e.g. "content weight 3.16") are drawn bottom-left on
    every movie frame; an interpolated frame carries the label of the nearer sweep
    frame. Returns the number of movie frames written, which equals
    `movie_frame_count(len(frames), fps, hold, crossfade, boomerang)`.
    """
    kind = movie_format(path)
    _check_timing(len(frames), fps, hold, crossfade)
    images = iter_movie_frames(frames, labels, fps=fps, hold=hold, crossfade=crossfade,
                               boomerang=boomerang, min_short_side=min_short_side, even=kind == "mp4")
    return encode_movie(images, path, fps=fps)


def write_movie_steps(render: Callable[[Step], np.ndarray], n_frames: int, path: str | os.PathLike, *,
                      fps: float = 12, hold: float = 1.0, crossfade: int = 0, boomerang: bool = False) -> int:
    """Write a movie whose frame for each step of `movie_plan(n_frames, ...)` is
    `render(step)` (the artist comparison uses this). Returns the frames written."""
    kind = movie_format(path)
    plan = movie_plan(n_frames, fps, hold, crossfade, boomerang)
    return encode_movie(iter_steps(render, plan, even=kind == "mp4"), path, fps=fps)


def remove_stale_movies(folder: Path, file_name: Callable[[str], str], stale: Sequence[str],
                        formats: Sequence[str]) -> None:
    """Delete the movies in `folder` (`file_name(kind)`) of the `stale` formats, those an
    earlier run rendered, unless `formats` asks for them: they would sit beside the new
    ones and the report would link them. A movie of a format no run here rendered is
    never touched: it may be the user's."""
    for kind in stale:
        if kind in FORMATS and kind not in formats:
            (folder / file_name(kind)).unlink(missing_ok=True)
