"""Decisions with one home: only the registry branches on a model's name or tier, and only the
command line speaks in flags.

Both are read off the source: every module of the package is parsed and its
comparisons and messages inspected, so a new branch or a new ``--flag`` in a
library message fails here, naming the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shallownet.registry import IMPLS, MODELS

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "shallownet"
NAMES = set(MODELS) | set(IMPLS)

#: The registry, and the table of defaults beside it, are where names are decided.
DECIDERS = {"registry.py", "defaults.py"}
#: Models' own definitions (a tier's module names its models) are not decisions either.
DEFINERS = {"scratch", "concise"}


def modules(*, skip_dirs=(), skip_files=()):
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in skip_dirs or rel.as_posix() in skip_files:
            continue
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --------------------------------------------------------------------------- no branching


def _names_in(node) -> set[str]:
    """The model or tier names a literal holds (a string, or a tuple/list/set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(_names_in(e) for e in node.elts)) if node.elts else set()
    return set()


def _attribute_name(node) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def branches_on_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of each comparison with a model or tier name, each membership test in a
    collection of them, and each ``match`` on them."""
    constants = {}  # module-level NAME = ("softmax", "mlp")
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _names_in(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = _names_in(node.value)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = set().union(*(_names_in(o) for o in operands))
            names |= set().union(*(constants.get(_attribute_name(o), set()) for o in operands))
            if names:
                found.append((node.lineno, f"compares with {sorted(names)}"))
        elif isinstance(node, ast.match_case) and _names_in(getattr(node.pattern, "value", None)):
            found.append((node.pattern.lineno, "matches a model name"))
    return found


def test_no_module_outside_the_registry_branches_on_a_model_or_tier_name():
    offenders = [
        f"{rel}:{line}: {what}"
        for rel, tree in modules(skip_dirs=DEFINERS, skip_files=DECIDERS)
        for line, what in branches_on_names(tree)
    ]
    assert offenders == []


@pytest.mark.parametrize("source", [
    'if cfg.model == "mlp": pass',
    'if setup.config.impl != "concise": pass',
    'FUSED = ("softmax", "mlp")\nif cfg.model in FUSED: pass',
    'x = cfg.model not in ("logreg",)',
    'match cfg.model:\n    case "lenet":\n        pass',
])
def test_the_branch_detector_finds_branches(source):
    assert branches_on_names(ast.parse(source))


@pytest.mark.parametrize("source", [
    'if cfg.task == "regression": pass',
    'if MODELS[cfg.model].task == "binary": pass',
    'if a.model == b.model: pass',
    'label = f"{cfg.model} ({cfg.impl})"',
])
def test_the_branch_detector_leaves_capability_checks_alone(source):
    assert not branches_on_names(ast.parse(source))


# --------------------------------------------------------------------------- no flags


FLAG = re.compile(r"(?<![\w-])--[a-z]")
#: a flag alone: a word of a command line a module runs (the benchmark times the command
#: line), not a message that tells someone what to type
ARGV_WORD = re.compile(r"--[a-z][a-z-]*")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring constants of a module, its classes and functions."""
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, kinds) and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def strings_with_flags(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of each string literal with a ``--flag`` in it, docstrings aside: whatever a
    message is built from (an error, a warning, a line printed, a helper's text)."""
    docs = _docstrings(tree)
    return sorted({(n.lineno, n.value) for n in ast.walk(tree)
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and id(n) not in docs and FLAG.search(n.value)
                   and not ARGV_WORD.fullmatch(n.value)})


def test_no_message_outside_the_command_line_names_a_flag():
    offenders = [
        f"{rel}:{line}: {text!r}"
        for rel, tree in modules(skip_dirs={"cli"})
        for line, text in strings_with_flags(tree)
    ]
    assert offenders == []


def test_the_flag_detector_finds_flags_and_leaves_docstrings_alone():
    tree = ast.parse('"""Run ``shallownet train --lr 0.1``."""\n'
                     'raise UsageError(f"try --lr {lr}")\n'
                     'warnings.warn("use --step autograd")\n'
                     'ways = [f"pass --data-dir {d}"]\n'
                     'def f():\n    """``--out`` in a docstring is documentation."""\n')
    assert [line for line, _ in strings_with_flags(tree)] == [2, 3, 4]
    assert not strings_with_flags(ast.parse('argv = ["train", "--out", path]'))
    assert not strings_with_flags(ast.parse('raise UsageError(f"lr={lr}; x--y")'))
