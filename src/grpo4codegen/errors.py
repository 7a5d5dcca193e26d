"""Errors that the CLI reports as a clear message with exit code 2, not a traceback."""


class UserError(Exception):
    """Bad input from the user: a missing file, a malformed row, an unknown option value."""


class IsolationError(UserError):
    """The sandbox cannot apply every isolation layer here, and the caller required all of them."""


class InfrastructureError(RuntimeError):
    """The machinery failed (executor worker died, server unreachable): never a candidate's fault."""
