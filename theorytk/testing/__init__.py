"""Pieces for checking your own bound in your own test suite (pytest + hypothesis).

``strategies`` draws admissible problems and seeds; :func:`assert_claim` turns a claim
into a test assertion whose message is the claim's sentence::

    from hypothesis import given
    from theorytk.testing import strategies as tst, assert_claim

    @given(problem=tst.mean_field_problems(), seed=tst.seeds())
    def test_my_bound(problem, seed):
        ...simulate...
        assert_claim(UpperBound.of(MY_THEOREM, empirical=..., se=..., at=...))

``strategies`` imports hypothesis (the ``test`` extra); this module does not.
"""
from theorytk.claims import Claim

__all__ = ["assert_claim", "assert_rejects"]


def _claim(claim):
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a theorytk.claims claim (UpperBound, Rate, Agreement, Check), "
                        f"got {type(claim).__name__}")
    return claim


def assert_claim(claim):
    """Raise ``AssertionError`` with the claim's sentence unless it holds; return the claim."""
    if not _claim(claim).holds:
        raise AssertionError(claim.sentence)
    return claim


def assert_rejects(claim):
    """Raise ``AssertionError`` unless the claim fails (use it on a planted wrong model); return the claim.

    A bound that also holds on a wrong model proves nothing: pair every ``assert_claim`` on
    your model with an ``assert_rejects`` on a mutant of it.
    """
    if _claim(claim).holds:
        raise AssertionError(f"the claim holds on a planted wrong model, so it cannot tell it apart: {claim.sentence}")
    return claim
