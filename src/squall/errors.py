"""The one exception type the command line turns into a one-line message."""


class SquallError(ValueError):
    """A problem with the user's input: bad file, bad option, bad bundle.

    A ``ValueError`` (a bad value was given), so code that already catches ``ValueError`` also
    catches squall's errors; every other squall error class derives from this one. Library
    messages name parameters (``length``), the command line translates them to its flags.

    The message names the problem and, where it can, what to do instead. The command line prints it
    as a single line and exits with status 2; it never shows a traceback for these.
    """


class SquallWarning(UserWarning):
    """Something the user should know but that does not stop the run (reports dropped while
    reading, a scaler dominated by a few values). The command line prints each as one line,
    ``squall: warning: ...``; in Python it is an ordinary warning that filters can control."""
