"""The one exception type the command line turns into a one-line message."""


class SquallError(ValueError):
    """A problem with the user's input: bad file, bad option, bad bundle.

    A ``ValueError`` (a bad value was given), so code that already catches ``ValueError`` also
    catches squall's errors; every other squall error class derives from this one. Library
    messages name parameters (``length``), the command line translates them to its flags.

    The message names the problem and, where it can, what to do instead. The command line prints it
    as a single line and exits with status 2; it never shows a traceback for these.
    """


#: Where a :class:`ParameterError` template names its parameter. A NUL cannot occur in a
#: command-line argument or a path, so a user's value never contains it (a literal ``{name}``
#: typed by the user is kept as it is).
NAME = "\x00name\x00"


class ParameterError(SquallError):
    """A bad value for one named parameter of a library call.

    ``template`` holds :data:`NAME` (``f"{NAME} must be ..."``) where the parameter is named:
    in Python the message names the parameter as the function calls it (``until must be a date
    ...``); the command line shows its own flag instead (``--until must be a date ...``,
    :meth:`for_option`), so library code never spells a flag and the two stay in step.
    """

    def __init__(self, param: str, template: str) -> None:
        self.param = param
        self.template = template
        super().__init__(self.for_option(param))

    def for_option(self, option: str) -> str:
        """The message with ``option`` (a flag such as ``--until``) in place of the parameter.
        Only :data:`NAME` is replaced: anything the user gave (a path ``{name}.csv``) is kept
        as it is, with no escaping needed."""
        return self.template.replace(NAME, option)

    def option(self) -> str:
        """The flag the command line uses for this parameter by convention: ``--`` and the
        name with dashes (``val_fraction`` -> ``--val-fraction``)."""
        return "--" + self.param.replace("_", "-").replace(" ", "-")


class SquallWarning(UserWarning):
    """Something the user should know but that does not stop the run (reports dropped while
    reading, a scaler dominated by a few values). The command line prints each as one line,
    ``squall: warning: ...``; in Python it is an ordinary warning that filters can control."""
