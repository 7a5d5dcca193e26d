"""Problems, structured tests and chat prompts (importable without torch)."""

from .loader import BUILTIN, load_problems
from .problems import Arg, Problem, TestCase, UnparsedTest
from .prompts import chat_messages

__all__ = ["BUILTIN", "Arg", "Problem", "TestCase", "UnparsedTest", "chat_messages", "load_problems"]
