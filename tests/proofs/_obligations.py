"""The checkers shared by the proof-obligation tests of the newer proofs modules."""
import sympy as sp

from proofs.theorem import CONFIDENCE, Source, Theorem


def holds(kind, payload):
    """``"zero"``: the expression simplifies to 0; ``"positive"``: sympy decides it is > 0."""
    if kind == "zero":
        return sp.simplify(payload) == 0
    if kind == "positive":
        return payload.is_positive is True
    raise AssertionError(f"unknown obligation kind {kind!r}")


def assert_listed_and_sourced(module):
    """Every Theorem of ``module`` (a module-level name, or a value of a module-level dict, tuple or list such as
    a family indexed by k) is in its ``THEOREMS`` (once, by a unique name), with a full source and no symbol outside
    the ones it declares."""
    found = {id(v): v for v in vars(module).values() if isinstance(v, Theorem)}
    for name, value in vars(module).items():
        members = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
        if name != "THEOREMS":
            found.update((id(t), t) for t in members if isinstance(t, Theorem))
    assert set(found) == {id(t) for t in module.THEOREMS}
    assert len({t.name for t in module.THEOREMS}) == len(module.THEOREMS)
    for t in module.THEOREMS:
        assert isinstance(t.source, Source) and t.source.confidence in CONFIDENCE, t.name
        assert t.source.reference and t.source.where and t.statement, t.name
        assert t.expr.free_symbols <= set(t.symbols), t.name
