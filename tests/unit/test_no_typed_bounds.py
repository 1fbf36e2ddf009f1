"""No bound or expected exponent is typed by hand in ``validations/``: they come from theorems.

Scans every validation module (AST) for a numeric literal, or a module-level name bound to
one, passed to a claim as its expected exponent (``Rate(..., expected=...)``, third
positional argument) or as its bound (``UpperBound(..., bound=...)``, fourth positional
argument). Such a claim must be built with ``Rate.of`` / ``UpperBound.of`` from a theorem in
``proofs/`` instead. ``ALLOWED`` lists the exceptions, each with its reason.
"""
import ast
from pathlib import Path

import pytest

VALIDATIONS = Path(__file__).resolve().parents[2] / "validations"

# {(module stem, claim name prefix): why a typed number is right there}. Empty: no exception is needed.
ALLOWED = {}

SLOTS = {"Rate": ("expected", 2), "UpperBound": ("bound", 3)}


def _number(node, constants):
    """Is ``node`` a numeric literal (possibly signed), or a name of a module-level one?"""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return True
    return isinstance(node, ast.Name) and node.id in constants


def _module_constants(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and _number(node.value, set()):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _claim_name(call):
    """The literal start of the claim's name (first argument), or ``""``."""
    first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
    if isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
        first = first.values[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""


def typed_numbers(path):
    """``(line, claim kind, slot, name)`` of every typed bound or exponent in one module."""
    tree = ast.parse(path.read_text())
    constants = _module_constants(tree)
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        kind = func.id if isinstance(func, ast.Name) else None  # Rate.of(...) is an Attribute: fine
        if kind not in SLOTS:
            continue
        keyword, position = SLOTS[kind]
        values = [k.value for k in node.keywords if k.arg == keyword]
        if len(node.args) > position:
            values.append(node.args[position])
        if any(_number(v, constants) for v in values):
            hits.append((node.lineno, kind, keyword, _claim_name(node)))
    return hits


def test_the_scan_finds_typed_numbers(tmp_path):
    sample = tmp_path / "v.py"
    sample.write_text("SLOPE = -1.0\nRate('a', fit, expected=-1.0, tolerance=0.1)\nRate('b', fit, SLOPE, 0.1)\n"
                      "UpperBound('c', e, se, 1.0)\nRate.of(T, 'N', fit, tolerance=0.1)\n"
                      "UpperBound('d', e, se, bound=T.evaluate(N=2))\n")
    assert typed_numbers(sample) == [(2, "Rate", "expected", "a"), (3, "Rate", "expected", "b"),
                                     (4, "UpperBound", "bound", "c")]


@pytest.mark.parametrize("path", sorted(VALIDATIONS.glob("*.py")), ids=lambda p: p.name)
def test_validations_type_no_bound_or_exponent(path):
    hits = [h for h in typed_numbers(path)
            if not any(stem == path.stem and h[3].startswith(prefix) for stem, prefix in ALLOWED)]
    assert not hits, (f"{path.name}: claims with a typed bound or exponent at {hits}; build them with Rate.of / "
                      f"UpperBound.of from a theorem in proofs/ (or add to ALLOWED with the reason)")
