"""Does a program run code it holds as text, or reach a way to? (`runs_code_from_text`)

The maintainability reward caps such a program at 0.1 and the comment reward gives it 0: radon would
rate the few visible lines, not the logic hidden in the text (which may be encoded: hex, base64,
reversed). Flagged: ``exec``/``eval``/``compile``, the builtins module (``builtins``,
``__builtins__``, ``__import__``) or interpreter internals (``__globals__``, ``__code__``,
``__subclasses__``), by name, attribute, import or a string naming them (a string that merely
contains a dunder name or ``builtins`` counts: ``"0.__self__.ev"``); evaluators of strings in the
standard library (``Formatter().get_field``, ``ForwardRef._evaluate``, ``get_type_hints``,
``dataclasses._create_fn``); ``getattr``, ``attrgetter``, ``methodcaller`` or ``import_module`` with
a computed name (``getattr(builtins, "ex" + "ec")``; a constant name is ordinary unless it names
``os``, ``sys`` or a spawning function), or passed as a value (``reduce(getattr, names, obj)``); any
call of ``globals()``, ``locals()`` or ``vars()`` (a namespace as a dict reaches every name without
naming one); attributes that reach a namespace, the builtins module or a frame (``__dict__``,
``__self__`` (``print.__self__`` is the builtins module), ``__getattribute__``, ``__mro__``,
``sys._getframe``, ``f_globals``, ...); ``sys.modules`` and ``os.system``-style spawning, where the
receiver is the ``sys`` or ``os`` module (its name, an import alias, or ``shutil.os``), and either
module used as a value (``f(os)``), where no receiver check can follow it (``self.system`` and
``course.modules`` are ordinary); ``gc.get_objects``/``get_referrers``/``get_referents`` (every live
object); ``os``/``sys`` as another module's attribute (``tempfile._os.system``, ``f(shutil.os)``);
an import of a module (or a use of ``logging.config`` through ``logging``) that runs source text,
deserialises code, resolves a dotted name held as text into any object, interprets another
language or starts another program (``timeit``, ``cProfile``, ``code``, ``runpy``, ``doctest``,
``pickle``, ``marshal``, ``ctypes``, ``importlib``, ``subprocess``, ``inspect``, ``pydoc``,
``pkgutil``, ``logging.config``, ``sqlite3``, ``tkinter``, ...) and ``asyncio``'s subprocesses;
``breakpoint`` (it imports and calls the dotted name in ``$PYTHONBREAKPOINT``); a string annotation
that is more than a type (``get_type_hints``, which ``singledispatch.register`` calls, evaluates
it); or a string constant that is itself a program of two or more statements, not all bare
expressions. A name that is a local of an enclosing function (a parser's nested ``def eval():``, a
variable ``eval = 0``) cannot reach the builtin and is exempt, as is ``self.eval()`` for a class's own method;
module- and class-level definitions are not (``if False: def eval(...)`` or a ``del`` leaves the
builtin in place), and neither are a def's defaults, decorators and annotations, which run in the
enclosing scope. A name bound by an import refers to what it imports: ``compile`` after ``from re
import compile`` is the regex compiler, where that import opens the module (before any of its own
code) and nothing else binds the name.

None of these appears in the 4,161 reference solutions and model responses of LeetCodeDataset and
the built-in problems. The list is a denylist, and a determined policy may find another route; the
LLM judge and the comment reward's own checks are the other lines of defence.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grpo4codegen.rewards.extract import parse_or_none

__all__ = ["runs_code_from_text"]

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

#: names that run text as code, or reach something that can (the builtins module, interpreter internals)
_DYNAMIC = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "builtins",
        "__builtins__",
        "__builtin__",
        "__import__",
        "__globals__",
        "__code__",
        "__subclasses__",
        # attributes that reach a namespace, the builtins module or any object by name:
        # `print.__self__` is the builtins module, `mod.__dict__[key]` a look-up by name
        "__dict__",
        "__self__",
        "__getattribute__",
        "__getattr__",
        "__mro__",
        "__base__",
        "__bases__",
        "__closure__",
        "__func__",
        "__loader__",
        "__spec__",
        # frames hold every namespace (`sys._getframe().f_builtins`)
        "_getframe",
        "f_builtins",
        "f_globals",
        "f_locals",
        "f_back",
        "tb_frame",
        "gi_frame",
        "cr_frame",
        # evaluate a string as an expression or a function body, or look up a dotted path in it
        "get_field",
        "ForwardRef",
        "_evaluate",
        "_eval_type",
        "evaluate_forward_ref",
        "get_type_hints",
        "_create_fn",
        # `breakpoint(*args)` imports the dotted name in $PYTHONBREAKPOINT and calls it with them
        "breakpoint",
        "breakpointhook",
    }
)
#: a string that CONTAINS one of these names reaches it (`"0.__self__.ev"` for `Formatter().get_field`)
_CONTAINED = frozenset({n for n in _DYNAMIC if n.startswith("__")} | {"builtins"})
#: modules that run source text or deserialise code (`timeit.timeit(stmt)`, `cProfile.run(stmt)`,
#: `code.InteractiveInterpreter().runsource`, `pickle.loads`), or start another interpreter;
#: checked on imports only (`code` or `trace` as a variable name is ordinary), and with the leading
#: underscores of a private twin dropped (`_pickle`, `_ctypes`, `_sqlite3`, `_posixsubprocess`)
_RUNNER_MODULES = frozenset(
    {
        "timeit",
        "cProfile",
        "profile",
        "trace",
        "code",
        "codeop",
        "runpy",
        "pdb",
        "bdb",
        "doctest",
        "pickle",
        "marshal",
        "shelve",
        "dill",
        "cloudpickle",
        "ctypes",
        "importlib",
        "imp",
        "zipimport",
        "subprocess",
        "pty",
        "inspect",
        "annotationlib",
        # resolve a dotted name held as text into any object (`pydoc.locate("os.system")`,
        # `pkgutil.resolve_name`, the `"()"` factories and `ext://` paths of `logging.config`,
        # `mock.patch` targets), or run a command line (`pydoc.pipepager`, a `webbrowser` command,
        # a `site` .pth line)
        "pydoc",
        "pkgutil",
        "logging.config",
        "unittest",  # `mock.patch` targets, `TestLoader().loadTestsFromName` (calls what it resolves)
        "test.support",  # `script_helper.assert_python_ok("-c", text)`
        "idlelib",
        "webbrowser",
        "site",
        "multiprocessing",
        "posixsubprocess",
        "distutils",
        "ensurepip",
        "venv",
        # interpreters of another language: the algorithm written as SQL or Tcl text
        "sqlite3",
        "tkinter",
        # interpreter internals that import, load or run code (`_imp`, a sub-interpreter's
        # `run_string`, the C API test hooks)
        "frozen_importlib",
        "frozen_importlib_external",
        "xxsubinterpreters",
        "interpreters",
        "xxinterpchannels",
        "testcapi",
        "testinternalcapi",
    }
)
#: the parents of runner submodules (`logging` of `logging.config`) and those submodules' own names
_RUNNER_PARENTS = frozenset(path.split(".")[0] for path in _RUNNER_MODULES if "." in path)
_RUNNER_LEAVES = frozenset(path.split(".")[-1] for path in _RUNNER_MODULES if "." in path)
#: `gc` functions that hand out every live object (the builtins module's dict among them)
_GC_INTROSPECTION = frozenset({"get_objects", "get_referrers", "get_referents"})
#: the modules whose `_SPAWN` attributes start another program
_OS_MODULES = frozenset({"os", "posix", "nt", "_os"})
#: modules that must be used as `module.name` only: passed as a value they escape the receiver checks
_SYS_MODULES = frozenset({"sys", "_sys"})
_MODULE_VALUES = _OS_MODULES | _SYS_MODULES | {"gc"}
#: attributes of `os` that start another program
_SPAWN = frozenset(
    {"system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe"}
    | {"spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnvp", "posix_spawn", "posix_spawnp"}
    | {"spawnlpe", "spawnvpe", "fexecve", "_execvpe", "_spawnvef"}
)
#: functions that start another program whatever they are reached from (`asyncio`'s subprocesses,
#: `uuid._get_command_stdout`, the fork-exec helpers)
_SPAWN_ANYWHERE = frozenset(
    {"create_subprocess_shell", "create_subprocess_exec", "subprocess_shell", "subprocess_exec"}
    | {"_get_command_stdout", "spawnv_passfds", "fork_exec"}
)
_SCOPES = frozenset({"globals", "locals", "vars"})
_SELF = frozenset({"self", "cls"})
#: regular-expression modules: their `compile` is not Python's
_REGEX = frozenset({"re", "regex"})
#: look-ups by name (callee -> position of the name argument): harmless with a constant name only
_BY_NAME = {"getattr": 1, "attrgetter": 0, "methodcaller": 0, "import_module": 0}


def _callee(call: ast.Call) -> str:
    """The called name: ``f`` for ``f(...)`` and ``mod.f(...)``, else ``""``."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


@dataclass(frozen=True)
class _Program:
    """What the node checks need to know about the whole program."""

    #: ids of the Name and Attribute nodes that cannot reach the builtin of their name
    exempt: frozenset[int]
    #: names under which the program holds the `os`, `sys` and regular-expression modules
    os_names: frozenset[str]
    sys_names: frozenset[str]
    regex_names: frozenset[str]
    #: name -> the module an ``import`` binds to it (``L`` -> ``logging`` for ``import logging as L``)
    modules: dict[str, str]
    #: ids of the Name nodes that are a function's own local (a parameter, a variable) bound by no
    #: import: ``p.sys``, ``test.support`` or ``getattr(a, "config")`` there is the program's data
    plain_locals: frozenset[int]


def _module_names(nodes: list[ast.AST], modules: frozenset[str], own: frozenset[str]) -> frozenset[str]:
    """Names that hold one of ``modules``: the names in ``own`` (``os``, which a harness may import
    for the program; ``nt`` or ``_sys`` only when imported: they are ordinary variable names too),
    ``import os as o``, ``import os.path`` (binds ``os``) and ``from shutil import os`` (any module
    re-exporting it)."""
    names = set(own)
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                if a.asname is None and root in modules:
                    names.add(root)
                elif a.asname is not None and a.name in modules:
                    names.add(a.asname)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names if a.name in modules)
    return frozenset(names)


def _imported_paths(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import loads: ``a.b`` for ``import a.b``; ``a`` and ``a.x`` for ``from a
    import x`` (``x`` may be a submodule: ``from logging import config``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    module = node.module or ""
    return [module, *(f"{module}.{a.name}" for a in node.names)]


def _is_runner_path(path: str) -> bool:
    """A dotted module path inside a runner module (``logging.config.dictConfig``, ``pydoc``)."""
    parts = path.split(".")
    parts[0] = parts[0].lstrip("_") or parts[0]  # `_pickle` is `pickle` in C
    return any(".".join(parts[:i]) in _RUNNER_MODULES for i in range(1, len(parts) + 1))


def _module_aliases(nodes: list[ast.AST]) -> dict[str, str]:
    """name -> the module an import binds to it: ``import logging`` and ``import logging.handlers``
    bind ``logging``; ``import logging as L`` binds ``L``; ``from unittest import mock`` binds
    ``mock`` to ``unittest.mock``. Parents of runner submodules are known by their own names too
    (a harness may have imported ``logging`` for the program), unless the program binds that name
    itself (``for test in tests``, a parameter ``logging``)."""
    own = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    own |= {n.arg for n in nodes if isinstance(n, ast.arg)}
    aliases = {name: name for name in _RUNNER_PARENTS if name not in own}
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname is None:
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
                else:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _regex_compiles(node: ast.ImportFrom) -> list[ast.alias]:
    """The aliases of ``from re import compile``: the regular-expression compiler, not Python's."""
    return [a for a in node.names if a.name == "compile"] if (node.module or "") in _REGEX else []


def _import_bound(tree: ast.AST, nodes: list[ast.AST]) -> set[int]:
    """ids of the Name nodes that refer to what an import bound to them, not to the builtin of
    their name: ``compile`` after ``from re import compile`` is the regex compiler. The import must
    run before any of the program's own code (a statement of the module's opening run of imports,
    not under ``if``/``try``), and the name must have no other binding anywhere (an assignment,
    ``del``, ``def``, parameter, loop target or another import may put the builtin back or bind
    something else); otherwise the name is the builtin wherever that binding does not reach."""
    if not isinstance(tree, ast.Module):
        return set()
    safe: set[str] = set()
    safe_aliases: set[int] = set()
    opening = True
    for stmt in tree.body:
        is_docstring = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        opening = opening and (isinstance(stmt, (ast.Import, ast.ImportFrom)) or is_docstring)
        if opening and isinstance(stmt, ast.ImportFrom):
            safe.update(a.asname or a.name for a in _regex_compiles(stmt))
            safe_aliases.update(id(a) for a in _regex_compiles(stmt))
    if not safe:
        return set()
    for node in nodes:
        bound: str | None = None
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound = node.id
        elif isinstance(node, ast.alias) and id(node) not in safe_aliases:
            bound = (node.asname or node.name).split(".")[0]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound = node.name
        elif isinstance(node, ast.arg):
            bound = node.arg
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
            bound = node.name
        elif isinstance(node, ast.MatchMapping):
            bound = node.rest
        elif isinstance(node, ast.Global | ast.Nonlocal):
            safe.difference_update(node.names)
        if bound is not None:
            safe.discard(bound)
    return {id(n) for n in nodes if isinstance(n, ast.Name) and n.id in safe}


def _outer_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a def, lambda or class that run in the ENCLOSING scope: decorators, default
    values, annotations, base classes."""
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *node.keywords]
    parts: list[ast.AST] = []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts += [*node.decorator_list, *([node.returns] if node.returns else [])]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        parts += [a.annotation for a in every if a is not None and a.annotation is not None]
        parts += [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    return parts


def _scope_body(node: ast.AST) -> list[ast.AST]:
    """What runs in the scope a def, lambda or class opens."""
    if isinstance(node, ast.Lambda):
        return [node.body]
    return list(node.body)  # type: ignore[attr-defined]


def _bindings(scope: ast.AST) -> tuple[set[str], set[str]]:
    """(names the scope binds itself, names it declares ``global``): parameters, def and class
    names, assignment, ``for``, ``with``, ``except``, ``match`` and import targets, ``del``. Nested
    scopes are not entered (their decorators and defaults are: they run here); neither are
    comprehensions (a walrus there binds here, but missing it only exempts less)."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = scope.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        bound.update(a.arg for a in every if a is not None)
    stack = _scope_body(scope)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                bound.add(node.name)
            stack.extend(_outer_parts(node))
            continue
        if isinstance(node, _COMPREHENSIONS):
            continue
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.alias) and node.name != "*":
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return bound, declared_global


def _comprehension_bindings(node: ast.AST) -> set[str]:
    """Every name a comprehension (or one nested in it) stores: its loop targets and walrus targets."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _function_locals(tree: ast.AST) -> set[int]:
    """ids of the Name nodes that name a local of an enclosing FUNCTION, and so can never reach the
    builtin of their name (a parser's nested ``def eval():`` called as ``eval()``, a variable
    ``eval = 0``). Python's rule: a name a function binds anywhere in its own scope, and does not
    declare ``global``, is local to it and to the scopes nested in it (unless they declare it
    ``global``). Module and class bindings give no exemption: code can run before the ``def`` (or
    under ``if False:``, or after ``del``), and then the name is the builtin. A def's decorators,
    defaults and annotations run in the enclosing scope."""
    found: set[int] = set()
    empty: frozenset[str] = frozenset()
    # (node, names visible as function locals here, the same for scopes nested here)
    stack: list[tuple[ast.AST, frozenset[str], frozenset[str]]] = [(tree, empty, empty)]
    while stack:
        node, here, chain = stack.pop()
        if isinstance(node, ast.Name):
            if node.id in here:
                found.add(id(node))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend((part, here, chain) for part in _outer_parts(node))
            bound, declared_global = _bindings(node)
            if isinstance(node, ast.ClassDef):
                inner_here = chain - bound - declared_global  # class names are looked up, not local
                inner_chain = chain - declared_global
            else:
                inner_here = inner_chain = (chain - declared_global) | (bound - declared_global)
            stack.extend((part, inner_here, inner_chain) for part in _scope_body(node))
            continue
        if isinstance(node, _COMPREHENSIONS):
            own = _comprehension_bindings(node)
            here, chain = here - own, chain - own
        stack.extend((child, here, chain) for child in ast.iter_child_nodes(node))
    return found


def _own_methods(nodes: list[ast.AST]) -> set[int]:
    """ids of ``self.eval`` / ``cls.eval`` attributes where a class defines a method ``eval`` directly
    in its body: the call reaches the program's own method, not the builtin."""
    methods = {
        stmt.name
        for cls in nodes
        if isinstance(cls, ast.ClassDef)
        for stmt in cls.body
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
    } & _DYNAMIC
    return {
        id(n)
        for n in nodes
        if isinstance(n, ast.Attribute)
        and n.attr in methods
        and isinstance(n.value, ast.Name)
        and n.value.id in ("self", "cls")
    }


def _receiver(node: ast.Attribute) -> str:
    """The name the attribute is taken from: ``os`` in ``os.system``, ``os`` in ``shutil.os.system``."""
    value = node.value
    return value.id if isinstance(value, ast.Name) else value.attr if isinstance(value, ast.Attribute) else ""


def _names_dynamic(text: str) -> bool:
    """A string that names a code runner: exactly one of ``_DYNAMIC`` (``"exec"``), or contains one
    of its dunder names or ``builtins`` (``"0.__self__.ev"`` for ``Formatter().get_field``)."""
    return text.strip() in _DYNAMIC or any(name in text for name in _CONTAINED)


def _reaches_dynamic_code(node: ast.AST, program: _Program) -> bool:
    """One node that names or reaches a code runner: ``exec``/``eval``/``compile``, the builtins
    module (``builtins``, ``__builtins__``, ``__import__``) or interpreter internals
    (``__globals__``, ``__code__``, ``__subclasses__``), by name, attribute, import or string;
    ``getattr`` (``attrgetter``, ``methodcaller``, ``import_module``) with a computed name;
    ``globals()``/``locals()``/``vars()``; ``os.system`` and ``sys.modules``, or the ``os``/``sys``
    module passed around as a value."""
    if id(node) in program.exempt:
        return False
    if isinstance(node, ast.Name):
        return node.id in _DYNAMIC
    if isinstance(node, ast.Attribute):
        receiver = _receiver(node)
        if node.attr == "compile" and receiver in program.regex_names:
            return False  # `re.compile(pattern)` compiles a regular expression, not Python
        # a module's attribute holding `os` or `sys` is that module (`tempfile._os`, `random._sys`)
        inner = node.value.attr if isinstance(node.value, ast.Attribute) else ""
        module = program.modules.get(node.value.id, "") if isinstance(node.value, ast.Name) else ""
        module = "" if _plain_local(node.value, program) else module  # `def f(logging): logging.config`
        module = module or (inner if inner in _RUNNER_PARENTS else "")  # `x.logging.config`
        return (
            node.attr in _DYNAMIC
            or node.attr in _GC_INTROSPECTION
            or node.attr in _SPAWN_ANYWHERE
            or (node.attr in _SPAWN and (receiver in program.os_names or inner in _OS_MODULES))
            or (node.attr == "modules" and (receiver in program.sys_names or inner in _SYS_MODULES))
            or (bool(module) and _is_runner_path(f"{module}.{node.attr}"))  # `logging.config`
        )
    if isinstance(node, ast.Import):
        return any(
            a.name.split(".")[0] in _DYNAMIC or a.name in _DYNAMIC or _is_runner_path(a.name)
            for a in node.names
        )
    if isinstance(node, ast.ImportFrom):
        root = (node.module or "").split(".")[0]
        names = {a.name for a in node.names}
        # `from re import compile` is a regex's (`from builtins import compile` is caught by its root)
        dynamic_names = names & _DYNAMIC - {a.name for a in _regex_compiles(node)}
        if root in _MODULE_VALUES and "*" in names:
            return True  # `from os import *` makes `system` a bare name
        return (
            root in _DYNAMIC
            or any(_is_runner_path(path) for path in _imported_paths(node))
            or bool(dynamic_names)
            or bool(names & _SPAWN_ANYWHERE)
            or (root in _SYS_MODULES and bool(names & {"modules", "_getframe"}))
            or (root in _OS_MODULES and bool(names & _SPAWN))
            or (root == "gc" and bool(names & _GC_INTROSPECTION))
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SCOPES:
        return id(node.func) not in program.exempt  # a namespace as a dict reaches every name
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _names_dynamic(node.value)
    if isinstance(node, ast.Call) and _callee(node) in _BY_NAME:
        position = _BY_NAME[_callee(node)]
        if len(node.args) <= position:
            return False
        name = node.args[position]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return True  # a computed name can be anything
        # `getattr(shutil, "os")`: a module that spawns or reaches every module, by a constant name;
        # `getattr(logging, "config")`: a runner submodule (not of a function's own variable)
        parts = set(name.value.split("."))
        leaves = _RUNNER_LEAVES if not (node.args and _plain_local(node.args[0], program)) else frozenset()
        return bool(parts & (_MODULE_VALUES | _SPAWN | _GC_INTROSPECTION | leaves))
    return False


def _module_escapes(nodes: list[ast.AST], program: _Program) -> bool:
    """The ``os`` or ``sys`` module used as a value (``f(os)``, ``m = sys``, ``getattr(os, name)``)
    rather than as ``os.name``: past that point no receiver check can follow it."""
    receivers = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}
    held = program.os_names | program.sys_names
    return any(
        isinstance(n.ctx, ast.Load)
        and id(n) not in receivers
        # `f(os)`, or `f(shutil.os)` / `m = tempfile._os`: a module's attribute holding `os` or `sys`
        # (`self.os` is the program's own: only an escape already flagged can have put a module there)
        and (
            (isinstance(n, ast.Name) and n.id in held)
            or (
                isinstance(n, ast.Attribute)
                and n.attr in _OS_MODULES | _SYS_MODULES
                and _receiver(n) not in _SELF
                and not _plain_local(n.value, program)  # `def f(dna): dna.nt` is its data
            )
        )
        for n in nodes
        if isinstance(n, (ast.Name, ast.Attribute))
    )


def _plain_local(node: ast.AST, program: _Program) -> bool:
    """A name that is a function's own local bound by no import (a parameter, a variable): what it
    holds is the program's data, unless a module was passed in, which the module checks catch."""
    return isinstance(node, ast.Name) and id(node) in program.plain_locals


def _is_program_text(node: ast.AST) -> bool:
    """A string constant that parses as a program of two or more statements, not all bare
    expressions (lines of bare words parse as expression statements: prose, not a program)."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    text = node.value
    if "\n" not in text.strip() and ";" not in text:
        return False
    program = parse_or_none(text)
    statements = [n for n in ast.walk(program) if isinstance(n, ast.stmt)] if program is not None else []
    return len(statements) >= 2 and any(not isinstance(n, ast.Expr) for n in statements)


#: what a type written as text may hold: names, dotted names, subscripts, unions, literals
_TYPE_NODES = (
    ast.Expression,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Tuple,
    ast.List,
    ast.Constant,
    ast.BinOp,
    ast.BitOr,
    ast.Load,
    ast.Slice,
    ast.UnaryOp,  # `Literal[-1]`
    ast.USub,
)


def _annotations(nodes: list[ast.AST]) -> list[ast.expr]:
    """Every annotation of the program: of parameters, return values and annotated assignments."""
    found: list[ast.expr | None] = []
    for node in nodes:
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return [a for a in found if a is not None]


def _type_parts(annotation: ast.expr) -> list[ast.AST]:
    """The nodes of an annotation that ``get_type_hints`` reads as types: not the values of
    ``Literal["a-b"]`` nor the metadata of ``Annotated[int, "1 <= n <= 10^5"]``, which stay text."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = [annotation]
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, ast.Subscript):
            head = node.value
            name = (
                head.id
                if isinstance(head, ast.Name)
                else head.attr
                if isinstance(head, ast.Attribute)
                else ""
            )
            stack.append(head)
            if name == "Literal":
                continue
            if name == "Annotated" and isinstance(node.slice, ast.Tuple) and node.slice.elts:
                stack.append(node.slice.elts[0])
                continue
            stack.append(node.slice)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _runs_annotation_text(nodes: list[ast.AST]) -> bool:
    """A string annotation that is an expression beyond a type (``x: "box.update(r=...) or int"``):
    ``typing.get_type_hints`` evaluates it, and ``functools.singledispatch``'s ``register`` calls
    that on the function it is handed, so the text runs. A forward reference (``"TreeNode"``,
    ``"Optional[List['Node']]"``, ``"int | None"``) holds names, subscripts and unions only."""
    for annotation in _annotations(nodes):
        for node in _type_parts(annotation):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            try:
                text = ast.parse(node.value.strip(), mode="eval")
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue  # get_type_hints cannot evaluate it either
            if any(
                not isinstance(n, _TYPE_NODES)
                or (isinstance(n, ast.BinOp) and not isinstance(n.op, ast.BitOr))
                for n in ast.walk(text)
            ):
                return True
    return False


def _passes_lookup(nodes: list[ast.AST], program: _Program) -> bool:
    """``getattr`` (or another by-name look-up) used as a value, not called: ``reduce(getattr, names,
    obj)`` or ``map(getattr, ...)`` looks up computed names where no call shows them."""
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    return any(
        isinstance(n, ast.Name)
        and n.id in _BY_NAME
        and id(n) not in called
        and id(n) not in program.exempt
        and isinstance(n.ctx, ast.Load)
        for n in nodes
    )


def _bare_strings(nodes: list[ast.AST]) -> set[int]:
    """ids of strings that are statements of their own (docstrings): prose that names a dunder or
    ``builtins`` reaches nothing by itself (running it as code needs a runner, which is flagged)."""
    return {
        id(n.value)
        for n in nodes
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
    }


def runs_code_from_text(tree: ast.AST) -> bool:
    """Does the program run (or reach a way to run) source it holds as text? See
    ``_reaches_dynamic_code`` and ``_is_program_text``; ``getattr(obj, "name")`` is ordinary, and so
    is a local of a function named like a builtin (its own nested ``def eval():``) and a class's own
    method called as ``self.eval()``."""
    nodes = list(ast.walk(tree))  # (walked once: every check below reads the same nodes)
    locals_ = _function_locals(tree)
    imported = {(a.asname or a.name).split(".")[0] for a in nodes if isinstance(a, ast.alias)}
    program = _Program(
        exempt=frozenset(locals_ | _own_methods(nodes) | _bare_strings(nodes) | _import_bound(tree, nodes)),
        os_names=_module_names(nodes, _OS_MODULES, frozenset({"os", "posix"})),
        sys_names=_module_names(nodes, frozenset({"sys", "_sys"}), frozenset({"sys"})),
        regex_names=_module_names(nodes, _REGEX, _REGEX),
        modules=_module_aliases(nodes),
        plain_locals=frozenset(
            id(n) for n in nodes if isinstance(n, ast.Name) and id(n) in locals_ and n.id not in imported
        ),
    )
    return (
        _passes_lookup(nodes, program)
        or _module_escapes(nodes, program)
        or _runs_annotation_text(nodes)
        or any(_reaches_dynamic_code(node, program) or _is_program_text(node) for node in nodes)
    )
