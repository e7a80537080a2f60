"""The one exception type the command line turns into a one-line message."""


class SquallError(Exception):
    """A problem with the user's input: bad file, bad option, bad bundle.

    The message names the problem and, where it can, what to do instead. The command line prints it
    as a single line and exits with status 2; it never shows a traceback for these.
    """


class SquallWarning(UserWarning):
    """Something the user should know but that does not stop the run (reports dropped while
    reading, a scaler dominated by a few values). The command line prints each as one line,
    ``squall: warning: ...``; in Python it is an ordinary warning that filters can control."""
