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
    """Every Theorem of ``module`` is in its ``THEOREMS`` (once, by a unique name), with a full source and no
    symbol outside the ones it declares."""
    found = [v for v in vars(module).values() if isinstance(v, Theorem)]
    assert {id(t) for t in found} == {id(t) for t in module.THEOREMS}
    assert len({t.name for t in module.THEOREMS}) == len(module.THEOREMS)
    for t in module.THEOREMS:
        assert isinstance(t.source, Source) and t.source.confidence in CONFIDENCE, t.name
        assert t.source.reference and t.source.where and t.statement, t.name
        assert t.expr.free_symbols <= set(t.symbols), t.name
