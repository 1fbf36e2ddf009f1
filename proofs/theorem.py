"""A theorem as data: symbols, assumptions, a sympy expression and its source.

A :class:`Theorem` holds a bound (or an exact expression) as a sympy expression in
positive symbols, the relations its parameters must satisfy, and where it comes from:
a paper with its theorem or equation number, or "derived here" with the derivation. Its
:meth:`Theorem.evaluate` is the expression lambdified to NumPy (compiled once, cached);
:meth:`Theorem.check` names the assumptions that a parameter set violates;
:meth:`Theorem.exponent` derives the leading power of the expression in one symbol, so that
a rate claim never types its expected exponent by hand.

This is the protocol that :mod:`theorytk.claims` accepts (``name``, ``statement``, ``expr``,
``symbols``, ``source`` with ``reference``/``where``/``confidence``, ``constant_known``,
``evaluate``, ``exponent``, ``latex``); ``theorytk`` never imports this module.
"""
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp

CONFIDENCE = ("paper", "secondary", "derived here", "unconfirmed")
_ARXIV = re.compile(r"arXiv[ :]?(\d{4}\.\d{4,5})")
LIMITS = ("oo", "0")


@dataclass(frozen=True)
class Source:
    """Where a statement comes from.

    Attributes
    ----------
    reference : str
        Paper (authors, venue, arXiv id) or ``"derived here"``.
    where : str
        Theorem, equation or section number; for a derivation, the steps.
    confidence : str
        One of ``CONFIDENCE``: read in the paper, read in a secondary source, derived here
        (each sympy-checkable step is checked in ``tests/proofs``), or not confirmed.
    note : str
        What could not be confirmed, or how the statement was reconstructed.
    arxiv : str
        The arXiv identifier of the paper (e.g. ``"2502.05784"``), or ``""`` for a derivation
        or a paper without one.
    """

    reference: str
    where: str
    confidence: str
    note: str = ""
    arxiv: str = ""

    def __post_init__(self):
        if self.confidence not in CONFIDENCE:
            raise ValueError(f"confidence must be one of {CONFIDENCE}, got {self.confidence!r}")
        if not self.arxiv:
            found = _ARXIV.search(self.reference)
            object.__setattr__(self, "arxiv", found.group(1) if found else "")

    def to_dict(self):
        """``{reference, where, confidence, note, arxiv}`` (JSON-safe strings)."""
        return {"reference": self.reference, "where": self.where, "confidence": self.confidence,
                "note": self.note, "arxiv": self.arxiv}


@dataclass(frozen=True, eq=False)
class Theorem:
    """A bound or identity in sympy, with its assumptions and source.

    Attributes
    ----------
    name : str
    statement : str
        The inequality in words/ASCII, e.g. ``"E||f_X - f*||_n^2 <= Vbar/N"``.
    expr : sympy.Expr
        The right-hand side (the bound) or the exact expression.
    symbols : tuple of sympy.Symbol
        Arguments of :meth:`evaluate`, in order; each is passed by its name.
    source : Source
    assumptions : tuple of sympy relational
        Relations among the symbols that the statement needs (beyond the symbols'
        own positivity assumptions).
    constant_known : bool
        False where the paper leaves a constant unspecified: then only the rate is checked.
    """

    name: str
    statement: str
    expr: sp.Expr
    symbols: tuple
    source: Source
    assumptions: tuple = field(default_factory=tuple)
    constant_known: bool = True

    @cached_property
    def _function(self):
        return sp.lambdify(self.symbols, self.expr, modules="numpy")

    @cached_property
    def _assumption_functions(self):
        return tuple(sp.lambdify(self.symbols, rel, modules="numpy") for rel in self.assumptions)

    @property
    def parameters(self):
        return tuple(s.name for s in self.symbols)

    def _arguments(self, params):
        missing = [p for p in self.parameters if p not in params]
        extra = sorted(set(params) - set(self.parameters))
        if missing or extra:
            raise TypeError(f"{self.name} takes parameters {self.parameters}; missing {missing}, unexpected {extra}")
        return [np.asarray(params[p], dtype=float) for p in self.parameters]

    def evaluate(self, **params):
        """The expression at the given parameters, broadcast against all of them (a float array).

        A constant expression (or one that ignores some parameters) still has the broadcast
        shape of every parameter, so it compares element by element like any other bound.
        """
        args = self._arguments(params)
        return np.broadcast_to(np.asarray(self._function(*args), dtype=float), np.broadcast_shapes(*(a.shape for a in args))).copy()

    def exponent(self, symbol, limit="oo"):
        r"""The leading power of the expression in ``symbol``, derived by sympy.

        .. math::

            p = \lim_{s \to s_0} \frac{\log f(s)}{\log s},\qquad s_0 \in \{\infty, 0^+\},

        computed as the limit of the elasticity :math:`s f'(s)/f(s)` (equal to the above by
        L'Hopital wherever the first limit exists), with the other symbols kept symbolic.
        E.g. ``Vbar/N`` gives -1 in ``N`` as ``N -> oo``; ``exp(-a t) D + C/N`` gives -1 in
        ``N`` (and 0 in ``t``: the exponential decays to the constant).

        Parameters
        ----------
        symbol : str or sympy.Symbol
            One of :attr:`symbols`.
        limit : {"oo", "0"}
            Where the leading behaviour is taken: ``symbol -> oo`` or ``symbol -> 0+``.

        Returns
        -------
        sympy.Expr
            The exponent; a number when it does not depend on the other symbols.

        Raises
        ------
        ValueError
            If ``symbol`` is not a symbol of the theorem, ``limit`` is not allowed, or the
            expression has no power-law leading behaviour (the limit does not exist).
        """
        return _exponent(self, symbol, limit)

    def latex(self):
        """The expression in LaTeX (``sympy.latex``), e.g. ``\\frac{\\bar V}{N}``."""
        return sp.latex(self.expr)

    def to_dict(self):
        """JSON-safe record: name, statement, latex, reference, where, confidence, note, arxiv, constant_known."""
        return {"name": self.name, "statement": self.statement, "latex": self.latex(), **self.source.to_dict(),
                "constant_known": self.constant_known}

    def check(self, **params):
        """Names of the assumptions (as strings) that fail somewhere for these parameters."""
        args = self._arguments(params)
        for s, a in zip(self.symbols, args):
            if s.is_positive and np.any(a <= 0):
                return [f"{s.name} > 0"]
        return [str(rel) for rel, fn in zip(self.assumptions, self._assumption_functions) if not np.all(fn(*args))]

    def require(self, **params):
        """Raise ``ValueError`` naming the failing assumptions, else return the evaluated bound."""
        failing = self.check(**params)
        if failing:
            raise ValueError(f"{self.name}: parameters violate {failing}")
        return self.evaluate(**params)


_EXPONENTS = {}


def _exponent(theorem, symbol, limit):
    """Cached :meth:`Theorem.exponent` (sympy limits take tens of milliseconds)."""
    names = {s.name: s for s in theorem.symbols}
    key_symbol = symbol.name if isinstance(symbol, sp.Symbol) else symbol
    if key_symbol not in names:
        raise ValueError(f"{theorem.name}: symbol must be one of {tuple(names)}, got {symbol!r}")
    if limit not in LIMITS:
        raise ValueError(f"limit must be one of {LIMITS}, got {limit!r}")
    key = (id(theorem), key_symbol, limit)
    if key not in _EXPONENTS:
        s = names[key_symbol]
        elasticity = sp.simplify(s * sp.diff(theorem.expr, s) / theorem.expr)
        value = sp.limit(elasticity, s, sp.oo) if limit == "oo" else sp.limit(elasticity, s, 0, "+")
        if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or isinstance(value, sp.AccumBounds):
            raise ValueError(f"{theorem.name}: no power-law leading behaviour in {key_symbol} as "
                             f"{key_symbol} -> {limit} (elasticity limit {value})")
        _EXPONENTS[key] = (theorem, sp.nsimplify(value) if value.is_number else value)
    return _EXPONENTS[key][1]
