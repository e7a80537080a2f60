"""Entry point of the ``squall`` command line: parse, run the command, turn errors into one line.

``main`` returns the exit status, ``run`` (the console script) exits with it. The parser is
built in :mod:`squall.cli.parser` from the command modules (:mod:`squall.cli.data`,
:mod:`~squall.cli.model`, :mod:`~squall.cli.detect`, :mod:`~squall.cli.engine_tools`,
:mod:`~squall.cli.hw`). Errors in the user's input print one line (``squall: error: ...``) and
exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from squall.cli.parser import build
from squall.errors import ParameterError, SquallError

# Library parameters whose flag is not the parameter's name with dashes (ParameterError.option).
_FLAGS = {
    "sizes": "--hidden",
    "threshold_q": "--threshold-quantile",
    "measured": "--cycles-from-sim",
    "figures_dir": "--figures",
    "from_dir": "--from",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 interrupted,
    141 when the reader of standard output went away, as a shell reports SIGPIPE)."""
    import warnings

    from squall.errors import SquallWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", SquallWarning)  # _OneLine shows each text once
        warnings.showwarning = _OneLine(warnings.showwarning)
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    args = None
    try:
        args = build().parse_args(argv)
        if not getattr(args, "func", None):
            (getattr(args, "parser", None) or build()).print_help()
            return 2
        args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return 0
    except ParameterError as exc:  # the library names its parameter, the user typed a flag
        print(f"squall: error: {_shown(exc, args)}", file=sys.stderr)
        return 2
    except SquallError as exc:
        print(f"squall: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `squall ... | head`: the reader has all it wanted
        return _broken_pipe()
    except OSError as exc:  # the file system said no: permissions, a full disk, ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"squall: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("squall: interrupted", file=sys.stderr)
        return 130


#: Reader settings: given to ``train`` (and ``eda``, ``evaluate``), then kept in the bundle, so
#: commands that read data with a bundle have no flag for them.
_READER_SETTINGS = {"time_format", "dayfirst", "time_column", "track_column"}


def _shown(exc: ParameterError, args: argparse.Namespace | None) -> str:
    """``exc`` with each parameter it names shown as the flag of the command that ran, when
    that command takes the flag; else by the parameter's name (and, for a reader setting, where
    it is set), so a message never asks for an option the command does not take."""
    missing: list[str] = []

    def show(param: str) -> str:
        flag = _FLAGS.get(param) or exc.option(param)
        dest = flag.lstrip("-").replace("-", "_")
        if args is not None and (hasattr(args, dest) or hasattr(args, param)):
            return flag
        missing.append(param)
        return param

    text = exc.render(show)
    for param in dict.fromkeys(p for p in missing if p in _READER_SETTINGS):
        flag = _FLAGS.get(param) or exc.option(param)
        text += (
            f" ({param} is a reader setting kept in the bundle: train it with {flag}, "
            f"or give data in the format it was trained on)"
        )
    return text


def _broken_pipe() -> int:
    """Exit quietly with 141 (128 + SIGPIPE, what a shell shows for a command killed by it).
    Standard output is pointed at devnull, as the Python documentation recommends, so the
    interpreter's final flush does not fail again and print 'Exception ignored'."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 141


class _OneLine:
    """``warnings.showwarning`` for a run: a :class:`squall.errors.SquallWarning` as one line
    ``squall: warning: MSG`` on stderr, each text once (no file and line of the code that
    warned: the message is for the user); other warnings as Python shows them."""

    def __init__(self, show) -> None:
        self.show = show
        self.seen: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        from squall.errors import SquallWarning

        if not issubclass(category, SquallWarning):
            self.show(message, category, filename, lineno, file, line)
            return
        text = " ".join(str(message).split())
        if text not in self.seen:
            self.seen.add(text)
            print(f"squall: warning: {text}", file=sys.stderr)


def run() -> None:
    sys.exit(main())
