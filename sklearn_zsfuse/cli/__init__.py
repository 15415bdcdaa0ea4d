"""The ``zsfuse`` command: evaluate on a corpus, predict with a saved model, write embeddings.

    zsfuse evaluate --dataset ravdess --root DIR [--alm ID|PATH|none] [--fm ID|PATH|egemaps|none]
                    [--grid audio_repeats=1,2 text_repeats=1,2,3 weights=0,0.1,...,1] [--out DIR]
    zsfuse predict MODEL.joblib FILE... [--format csv|json]
    zsfuse embed (--fm ID|PATH|egemaps | --alm ID|PATH) (FILE... | --dataset NAME --root DIR) --out X.npy|X.parquet

Every argument and every model path is checked before any clip is read (``CHECKS``);
a user's mistake is one line on stderr and exit status 2, anything else one line and
status 1; ``--debug`` shows the traceback instead. One progress display covers the
whole run (:mod:`sklearn_zsfuse.reporting.progress`).
"""

from __future__ import annotations

import contextlib
import sys
import warnings

from .embed import _check_embed, _embed
from .evaluate import _check_evaluate, _evaluate
from .options import build_parser
from .parsing import one_line
from .predict import _check_predict, _predict

__all__ = ["build_parser", "main"]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    parser = args.command_parser  # its errors read "zsfuse evaluate: error: ..."
    try:
        with _one_line_warnings(args.command):
            CHECKS[args.command](args, parser)  # every argument and model: before any clip is read
            with _run_display(args):
                return COMMANDS[args.command](args, parser)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"zsfuse {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        return _report(args.command, exc)


def _report(command: str, exc: Exception) -> int:
    """One line on stderr; 2 for a user's mistake (a bad file, model, corpus or value), else 1."""
    from ..encoders import MissingExtraError

    if isinstance(exc, (ValueError, OSError, MissingExtraError)):
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



COMMANDS = {"evaluate": _evaluate, "predict": _predict, "embed": _embed}
CHECKS = {"evaluate": _check_evaluate, "predict": _check_predict, "embed": _check_embed}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
