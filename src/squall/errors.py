"""The one exception type the command line turns into a one-line message."""

from __future__ import annotations

import re
from collections.abc import Callable


class SquallError(ValueError):
    """A problem with the user's input: bad file, bad option, bad bundle.

    A ``ValueError`` (a bad value was given), so code that already catches ``ValueError`` also
    catches squall's errors; every other squall error class derives from this one. Library
    messages name parameters (``length``), the command line translates them to its flags.

    The message names the problem and, where it can, what to do instead. The command line prints it
    as a single line and exits with status 2; it never shows a traceback for these.
    """


def mark(param: str) -> str:
    """Where a :class:`ParameterError` message names the parameter ``param``: a token between
    NULs, which cannot occur in a command-line argument or a path, so a user's value never
    holds one (a value that reads ``{name}`` is shown as typed)."""
    return f"\x00{param}\x00"


#: The error's own parameter in a :class:`ParameterError` template (``f"{NAME} must be ..."``).
NAME = mark("name")

_MARK = re.compile("\x00([A-Za-z_][A-Za-z0-9_]*)\x00")


class ParameterError(SquallError):
    """A bad value for a named parameter of a library call.

    ``template`` holds :data:`NAME` where the parameter ``param`` is named
    (``f"{NAME} must be ..."``) and :func:`mark` ``(other)`` where another parameter is (``give
    {NAME} or {mark('threshold_quantile')}``). In Python the message names the parameters as the
    functions call them (``until must be a date ...``); the command line shows its own flags
    (``--until must be a date ...``, :meth:`render`), so library code never spells a flag.
    """

    def __init__(self, param: str, template: str) -> None:
        self.param = param
        self.template = template
        super().__init__(self.render(lambda name: name))

    def params(self) -> list[str]:
        """Every parameter the message names, its own first."""
        others = [m for m in _MARK.findall(self.template) if m != "name"]
        return [self.param, *dict.fromkeys(o for o in others if o != self.param)]

    def render(self, show: Callable[[str], str]) -> str:
        """The message with ``show(param)`` in place of each parameter it names."""

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            return show(self.param if name == "name" else name)

        return _MARK.sub(one, self.template)

    def for_option(self, option: str) -> str:
        """The message with ``option`` (a flag such as ``--until``) in place of this error's
        parameter (other parameters by their names)."""
        return self.render(lambda name: option if name == self.param else name)

    def option(self, param: str | None = None) -> str:
        """The flag the command line uses for a parameter (default this error's) by
        convention: ``--`` and the name with dashes (``val_fraction`` -> ``--val-fraction``)."""
        return "--" + (param or self.param).replace("_", "-").replace(" ", "-")


class SquallWarning(UserWarning):
    """Something the user should know but that does not stop the run (reports dropped while
    reading, a scaler dominated by a few values). The command line prints each as one line,
    ``squall: warning: ...``; in Python it is an ordinary warning that filters can control."""
