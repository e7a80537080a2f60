"""The one exception type the command line turns into a one-line message."""


class SquallError(Exception):
    """A problem with the user's input: bad file, bad option, bad bundle.

    The message names the problem and, where it can, what to do instead. The command line prints it
    as a single line and exits with status 2; it never shows a traceback for these.
    """
