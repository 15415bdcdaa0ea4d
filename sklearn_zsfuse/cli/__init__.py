"""The ``zsfuse`` command: evaluate on a corpus, predict with a saved model, write embeddings.

    zsfuse evaluate --dataset ravdess --root DIR [--alm ID|PATH|none] [--fm ID|PATH|egemaps|none]
                    [--grid audio_repeats=1,2 text_repeats=1,2,3 weights=0,0.1,...,1] [--out DIR]
    zsfuse predict MODEL.joblib FILE... [--format csv|json]
    zsfuse embed (--fm ID|PATH|egemaps | --alm ID|PATH) (FILE... | --dataset NAME --root DIR) --out X.npy|X.parquet

Each command is a module (``evaluate``, ``predict``, ``embed``) with
``add_parser(sub)``, ``check(args) -> Plan`` and ``run(plan) -> int``: the check
reads every option once, checks every model path and loads the corpus before any
clip is read; the run does the work under one progress display
(:mod:`sklearn_zsfuse.reporting.progress`). A user's mistake (the types of
:func:`.errors.user_errors`) is one line on stderr and exit status 2; anything
else, a ValueError from inside the package included, one line and status 1;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import sys
import warnings

from .errors import UsageError, user_errors
from .options import COMMANDS, build_parser
from .parsing import one_line

__all__ = ["build_parser", "main"]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        with _one_line_warnings(args.command):
            plan = command.check(args)  # every argument, model and corpus: before any clip is read
            with _run_display(args):
                return command.run(plan)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"zsfuse {args.command}: interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:
        args.command_parser.error(str(exc))  # one line, "(see zsfuse CMD --help)", exit status 2
    except Exception as exc:
        if args.debug:
            raise
        return _report(args.command, exc)


def _report(command: str, exc: Exception) -> int:
    """One line on stderr; 2 for a user's mistake (a bad file, model, corpus or value), 1 for a bug."""
    if isinstance(exc, user_errors()):
        print(f"zsfuse {command}: {one_line(exc)}", file=sys.stderr)
        return 2
    print(f"zsfuse {command}: unexpected {type(exc).__name__}: {one_line(exc)} (run again with --debug for "
          "the traceback)", file=sys.stderr)
    return 1


@contextlib.contextmanager
def _one_line_warnings(command: str):
    """Each distinct warning once, on one line, through the run's display (shown with -q too).

    The process's own warning settings are put back afterwards.
    """
    from ..reporting.progress import current_run

    shown = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"zsfuse {command}: {category.__name__}: {one_line(message)}"
        if text in shown:
            return
        shown.add(text)
        run = current_run()
        if run is not None:
            run.warning(text)
        else:
            print(text, file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _run_display(args):
    """One progress display for the whole run; the libraries' own bars off with -q or in a log file."""
    from ..reporting.progress import quiet_library_bars, run_progress

    quiet_libraries = args.quiet or not sys.stderr.isatty()
    with (quiet_library_bars() if quiet_libraries else contextlib.nullcontext()):
        with run_progress(sys.stderr, quiet=args.quiet):
            yield
