"""The checker shared by the proof-obligation tests of the newer proofs modules."""
import sympy as sp


def holds(kind, payload):
    """``"zero"``: the expression simplifies to 0; ``"positive"``: sympy decides it is > 0."""
    if kind == "zero":
        return sp.simplify(payload) == 0
    if kind == "positive":
        return payload.is_positive is True
    raise AssertionError(f"unknown obligation kind {kind!r}")
