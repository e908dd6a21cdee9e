"""The kit's exceptions: what the command line turns into a one-line error."""


class KitError(Exception):
    """A problem the user can fix; the command line prints it as one line and exits with status 2."""

