"""`ast.parse` that any thread may call: how the package parses Python in its own processes.

CPython 3.11 keeps the AST converter's recursion depth in state that every thread shares
(python/cpython#106905). When a garbage collection inside one conversion runs a finalizer, another
thread can start converting, and either conversion may then fail with "SystemError: AST constructor
recursion depth mismatch". Here several threads parse at once: the executor's threads parse
preambles, the server's request threads parse printed values and inline problems, and the reward
layer parses completions beside them. Measured on 3.11.7: four threads parsing the same source
failed 67 of 1,200 parses. Such a failure is ours, but it would read as the candidate's: a syntax
error (comment and maintainability 0), or a printed value that cannot be read (a wrong answer).

So every parse outside the sandbox's children holds `PARSE_LOCK`, and so do the radon calls, which
parse internally. The GIL runs one conversion at a time anyway, so the lock costs little. The
sandbox's workers and children are single-threaded processes, and they parse directly.
"""

from __future__ import annotations

import ast
import os
import threading

__all__ = ["PARSE_LOCK", "parse"]

#: held around every parse (re-entrant: radon's calls hold it around their own parses)
PARSE_LOCK = threading.RLock()


def parse(source: str | bytes, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """`ast.parse(source, filename, mode)`, one thread at a time."""
    with PARSE_LOCK:
        return ast.parse(source, filename, mode)


def _fresh_lock_after_fork() -> None:
    """A child forked while another thread held the lock would wait for it forever."""
    global PARSE_LOCK
    PARSE_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_fresh_lock_after_fork)
