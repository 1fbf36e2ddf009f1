"""The vocabulary of verdicts: a claim is built from numbers and judges itself.

Every claim is a frozen dataclass with

* ``holds`` (bool): the verdict, judged with an explicit statistical margin;
* ``sentence`` (str): one sentence explaining the verdict with its key numbers;
* ``numbers`` (dict) and ``margin`` (dict or None): what the verdict was computed from;
* ``to_dict()``: a JSON-safe record ``{name, kind, holds, numbers, margin, sentence}``.

Kinds:

* :class:`UpperBound`: the empirical quantity stays under a bound, even at the top of its
  k-SE band;
* :class:`Rate`: a fitted exponent is equivalent to the predicted one within a tolerance
  (the whole confidence interval lies inside the tolerance range);
* :class:`Agreement`: two estimates agree within k combined standard errors (plus a
  relative tolerance);
* :class:`Check`: a deterministic fact (e.g. a solver residual below a threshold).

:class:`Verdicts` collects claims, says whether all hold and writes ``verdict.json``.

From a theorem
--------------
A claim about a theorem is built from it: :meth:`UpperBound.of` evaluates the bound,
:meth:`Rate.of` derives the expected exponent, :meth:`Agreement.of` evaluates an exact
value, so no bound or exponent is typed by hand, and ``to_dict()["theorem"]`` records which
statement the verdict is about. A theorem is any object with the *theorem protocol*
(``proofs.theorem.Theorem`` is one; ``theorytk`` never imports ``proofs``):

* ``name``, ``statement`` (str) and ``constant_known`` (bool: False where the paper leaves a
  constant unspecified, so only rates may be checked against it);
* ``source`` with ``reference``, ``where`` (theorem or equation number), ``confidence``
  (``"paper"``, ``"secondary"``, ``"derived here"`` or ``"unconfirmed"``), and optionally
  ``note`` and ``arxiv``;
* ``evaluate(**params)`` -> array (the expression, NumPy broadcasting), ``exponent(symbol,
  limit="oo")`` -> the leading power of the expression in ``symbol``, ``latex()`` -> str.

A claim with no theorem behind it says so: pass ``sanity="why it is still worth checking"``
to label it a sanity check (its sentence and record say so, and it is not expected to reject
a planted wrong model), or leave both out and its record says ``"theorem": null``.

References
----------
.. [1] D. J. Schuirmann, "A comparison of the two one-sided tests procedure and the power
   approach for assessing the equivalence of average bioavailability", *Journal of
   Pharmacokinetics and Biopharmaceutics* 15, 657-680, 1987 (equivalence by interval
   inclusion, used by :class:`Rate`).
"""
import json
from collections.abc import Mapping, MutableSequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from theorytk import _validate
from theorytk.stats import SlopeFit

__all__ = ["Agreement", "Check", "Claim", "Rate", "UpperBound", "Verdicts", "theorem_record"]

_PROTOCOL = ("name", "statement", "source", "constant_known", "evaluate", "exponent", "latex")
_SOURCE_FIELDS = ("reference", "where", "confidence")


def _g(value):
    """Format a number with 3 significant digits for a sentence."""
    return f"{value:.3g}"


def _jsonable(value):
    """Convert numpy scalars and arrays, tuples and mappings to JSON types; NaN/inf -> None."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _jsonable(value.item())
    if isinstance(value, np.ndarray | list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"claim numbers must be numbers, strings, arrays or mappings of them, got {type(value).__name__}")


def _theorem(theorem):
    """Check the theorem protocol (see the module docstring); return the theorem or None."""
    if theorem is None:
        return None
    missing = [attr for attr in _PROTOCOL if not hasattr(theorem, attr)]
    missing += [f"source.{attr}" for attr in _SOURCE_FIELDS if not hasattr(getattr(theorem, "source", None), attr)]
    if missing:
        raise TypeError(f"theorem must follow the theorem protocol (name, statement, source, constant_known, "
                        f"evaluate, exponent, latex); {type(theorem).__name__} lacks {missing}")
    return theorem


def theorem_record(theorem):
    """The JSON-safe record of a theorem: name, statement, latex, reference, where, confidence, note, arxiv, constant_known."""
    source = theorem.source
    return {"name": theorem.name, "statement": theorem.statement, "latex": theorem.latex(),
            "reference": source.reference, "where": source.where, "confidence": source.confidence,
            "note": getattr(source, "note", ""), "arxiv": getattr(source, "arxiv", ""),
            "constant_known": bool(theorem.constant_known)}


def _sanity(sanity):
    if sanity is None:
        return None
    if not isinstance(sanity, str) or not sanity.strip():
        raise TypeError(f"sanity must be None or a non-empty str saying why the check is kept, got {sanity!r}")
    return sanity


def _evaluate(theorem, at):
    """``theorem.evaluate(**at)`` with a clear error for a bad ``at``."""
    if not isinstance(at, Mapping):
        raise TypeError(f"at must be a mapping of the theorem's parameters to values, got {type(at).__name__}")
    return np.asarray(theorem.evaluate(**at), dtype=float)


def _basis_at(at):
    """The parameters a theorem was evaluated at, JSON-safe."""
    return {"at": _jsonable({key: np.asarray(value, dtype=float) if not isinstance(value, str) else value
                             for key, value in at.items()})}


def _require_constant(theorem, kind):
    if not theorem.constant_known:
        raise ValueError(f"{theorem.name} leaves its constant unspecified (constant_known=False): it can only back "
                         f"a Rate claim, not {kind}")


def _name(name):
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r} of type {type(name).__name__}")
    if not name.strip():
        raise ValueError("name must be a non-empty str")
    return name


def _broadcast(**named):
    """Validate finite float arrays and broadcast them together (read-only results)."""
    arrays = {key: _validate.array(key, value) for key, value in named.items()}
    try:
        out = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{key} {value.shape}" for key, value in arrays.items())
        raise ValueError(f"arrays must broadcast together, got shapes {shapes}") from None
    for key, value in zip(arrays, out):
        if value.size == 0:
            raise ValueError(f"{key} must not be empty")
    frozen = {}
    for key, value in zip(arrays, out):
        frozen[key] = np.array(value, copy=True)
        frozen[key].flags.writeable = False
    return frozen


def _non_negative(name, value):
    if np.any(value < 0):
        raise ValueError(f"{name} must be >= 0, got minimum {value.min()!r}")


def _labels(labels, shape):
    """One str label per element (C order); ``None`` gives index labels, or none for a scalar."""
    size = int(np.prod(shape))
    if labels is None:
        if size == 1:
            return (None,)
        if len(shape) == 1:
            return tuple(f"index {i}" for i in range(size))
        return tuple(f"index {index}" for index in np.ndindex(*shape))
    if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
        raise TypeError(f"labels must be a sequence of str, got {labels!r}")
    labels = tuple(labels)
    if len(labels) != size:
        raise ValueError(f"labels must have one entry per element ({size}), got {len(labels)}")
    return labels


def _at(label):
    return "" if label is None else f" at {label}"


def _percent(level):
    return f"{100 * level:g}%"


_METHOD_NAMES = {"ols": "OLS", "wls": "WLS", "bootstrap": "bootstrap"}


class Claim:
    """Base of all claims.

    Subclasses provide ``name``, ``holds``, ``numbers``, ``margin``, a ``_verdict`` sentence,
    and the fields ``theorem`` (an object with the theorem protocol, or None), ``basis``
    (how the theorem was used: the parameters it was evaluated at, or the symbol and limit
    of a derived exponent) and ``sanity`` (None, or why a claim that is not expected to
    reject a planted wrong model is kept).
    """

    @property
    def kind(self):
        """The claim's class name, e.g. ``"UpperBound"``."""
        return type(self).__name__

    @property
    def is_sanity_check(self):
        """Labelled a sanity check (``sanity`` given): not expected to reject a planted wrong model."""
        return self.sanity is not None

    def _tail(self):
        """What the claim checks, appended to its sentence: the theorem, or that it is a sanity check."""
        if self.sanity is not None:
            return f" [sanity check: {self.sanity}]"
        if self.theorem is not None:
            src = self.theorem.source
            return f" [theorem {self.theorem.name}: {src.reference}, {src.where}; confidence {src.confidence}]"
        return " [no theorem]"

    def _provenance(self):
        """Validate ``theorem``, ``basis`` and ``sanity`` in ``__post_init__``."""
        object.__setattr__(self, "theorem", _theorem(self.theorem))
        object.__setattr__(self, "sanity", _sanity(self.sanity))
        if self.basis is not None and not isinstance(self.basis, Mapping):
            raise TypeError(f"basis must be None or a mapping, got {type(self.basis).__name__}")
        if self.basis is not None:
            object.__setattr__(self, "basis", _jsonable(self.basis))

    def to_dict(self):
        """JSON-safe record: name, kind, holds, numbers, margin, sentence, theorem, basis, sanity_check."""
        theorem = None
        if self.theorem is not None:
            theorem = {**theorem_record(self.theorem), **(self.basis or {})}
        return {
            "name": self.name,
            "kind": self.kind,
            "holds": bool(self.holds),
            "numbers": _jsonable(self.numbers),
            "margin": _jsonable(self.margin),
            "sentence": self.sentence,
            "theorem": theorem,
            "sanity_check": self.sanity,
        }


class _Judged(Claim):
    """A statistical claim: its sentence is the verdict (``_verdict``) and what it checks."""

    @property
    def sentence(self):
        """One sentence: the verdict with its key numbers, then the theorem it checks (or that it has none)."""
        return self._verdict + self._tail()


@dataclass(frozen=True, eq=False)
class UpperBound(_Judged):
    r"""The empirical quantity stays under a bound: every upper k-SE end is below it.

    With estimates :math:`e_i`, standard errors :math:`\mathrm{se}_i` and bound values
    :math:`b_i > 0` (arrays broadcast),

    .. math::

        \text{holds} \iff e_i + k\,\mathrm{se}_i \le b_i \ \text{for every } i,

    i.e. each one-sided test of :math:`E[e_i] > b_i` is rejected at about :math:`k`
    sigma (one-sided level :math:`\approx 1.3\times10^{-3}` for :math:`k=3`, before
    accounting for multiple points). When it does not hold, the claim is *violated* if
    some :math:`e_i - k\,\mathrm{se}_i > b_i` (significantly over the bound) and
    *inconclusive* otherwise.

    Parameters
    ----------
    name : str
        What is bounded, e.g. ``"N*E"``.
    empirical, se, bound : array_like of float
        Estimates, their standard errors (>= 0) and the bound (> 0); broadcast together.
    k : float, default 3.0
        Width of the band in standard errors (>= 0).
    labels : sequence of str, optional
        One label per element of the broadcast shape (C order), e.g. ``["N=2", "N=4"]``.
    theorem : object with the theorem protocol, optional
        The statement the claim checks (see the module docstring); use :meth:`of`.
    basis : Mapping, optional
        How the theorem was used (set by :meth:`of`).
    sanity : str, optional
        Why the claim is kept although it is not expected to reject a planted wrong model.

    Attributes
    ----------
    holds : bool
    violated : bool
        Some point lies more than ``k`` SE above its bound.
    status : {"holds", "violated", "inconclusive"}
    numbers : dict
        ``worst_label`` (the point with the largest upper-end ratio) and its
        ``worst_empirical``, ``worst_se``, ``worst_bound``, ``worst_upper_ratio``
        (:math:`(e+k\,\mathrm{se})/b`); ``max_ratio`` (largest :math:`e/b`, the worst
        slack); ``max_lower_ratio``; counts ``n_points``, ``n_upper_over``,
        ``n_significantly_over``; ``violated``; and the element lists ``empirical``,
        ``se``, ``bound``, ``labels``.
    """

    name: str
    empirical: np.ndarray
    se: np.ndarray
    bound: np.ndarray
    k: float = 3.0
    labels: tuple | None = None
    theorem: object = None
    basis: Mapping | None = None
    sanity: str | None = None

    @classmethod
    def of(cls, theorem, empirical, se, at, *, name=None, k=3.0, labels=None, sanity=None):
        """The claim that ``empirical`` stays under ``theorem``'s bound evaluated at ``at``.

        Parameters
        ----------
        theorem : object with the theorem protocol
            Its ``constant_known`` must be True (an unspecified constant bounds nothing).
        empirical, se : array_like of float
        at : Mapping[str, array_like]
            The theorem's parameters; ``theorem.evaluate(**at)`` is the bound (broadcast
            against ``empirical``).
        name : str, optional
            Default: the theorem's statement.
        k, labels, sanity
            As in the class.
        """
        theorem = _theorem(theorem)
        _require_constant(theorem, "an UpperBound")
        return cls(name if name is not None else theorem.statement, empirical, se, _evaluate(theorem, at), k=k,
                   labels=labels, theorem=theorem, basis=_basis_at(at), sanity=sanity)

    def __post_init__(self):
        _name(self.name)
        self._provenance()
        arrays = _broadcast(empirical=self.empirical, se=self.se, bound=self.bound)
        _non_negative("se", arrays["se"])
        if np.any(arrays["bound"] <= 0):
            raise ValueError(f"bound must be > 0 (ratios to it are reported), got minimum {arrays['bound'].min()!r}")
        for key, value in arrays.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "k", _validate.real("k", self.k, minimum=0.0))
        object.__setattr__(self, "labels", _labels(self.labels, arrays["bound"].shape))

    @property
    def _upper_ratio(self):
        return ((self.empirical + self.k * self.se) / self.bound).ravel()

    @property
    def _lower_ratio(self):
        return ((self.empirical - self.k * self.se) / self.bound).ravel()

    @property
    def holds(self):
        """Every upper k-SE end is at or below the bound."""
        return bool(np.all(self._upper_ratio <= 1.0))

    @property
    def violated(self):
        """Some lower k-SE end is above the bound."""
        return bool(np.any(self._lower_ratio > 1.0))

    @property
    def status(self):
        """``"holds"``, ``"violated"`` or ``"inconclusive"``."""
        return "holds" if self.holds else "violated" if self.violated else "inconclusive"

    @property
    def margin(self):
        """The band width: ``{"k": k}``."""
        return {"k": self.k}

    @property
    def numbers(self):
        """The verdict's numbers; see the class docstring."""
        upper, lower = self._upper_ratio, self._lower_ratio
        worst = int(np.argmax(upper))
        return {
            "worst_label": self.labels[worst],
            "worst_empirical": self.empirical.ravel()[worst],
            "worst_se": self.se.ravel()[worst],
            "worst_bound": self.bound.ravel()[worst],
            "worst_upper_ratio": upper[worst],
            "max_ratio": float(np.max(self.empirical / self.bound)),
            "max_lower_ratio": float(np.max(lower)),
            "n_points": upper.size,
            "n_upper_over": int(np.count_nonzero(upper > 1.0)),
            "n_significantly_over": int(np.count_nonzero(lower > 1.0)),
            "violated": self.violated,
            "empirical": self.empirical.ravel(),
            "se": self.se.ravel(),
            "bound": self.bound.ravel(),
            "labels": list(self.labels),
        }

    @property
    def _verdict(self):
        """The verdict, the worst point and its ratio to the bound."""
        upper, lower = self._upper_ratio, self._lower_ratio
        k = f"{self.k:g}"
        if self.holds:
            worst = int(np.argmax(upper))
            return (
                f"{self.name} stays under the bound: worst upper {k}-SE end "
                f"{_g(upper[worst])}x of the bound{_at(self.labels[worst])}."
            )
        if self.violated:
            worst = int(np.argmax(lower))
            over = np.count_nonzero(lower > 1.0)
            return (
                f"{self.name} exceeds the bound: {over} of {lower.size} points lie more than {k} SE above it, "
                f"the furthest{_at(self.labels[worst])} with lower {k}-SE end {_g(lower[worst])}x the bound."
            )
        worst = int(np.argmax(upper))
        return (
            f"{self.name} is not shown to stay under the bound: upper {k}-SE end reaches "
            f"{_g(upper[worst])}x the bound{_at(self.labels[worst])}, but no point is more than {k} SE above it."
        )


@dataclass(frozen=True)
class Rate(_Judged):
    r"""A fitted exponent is equivalent to the predicted one within a tolerance.

    .. math::

        \text{holds} \iff [\text{lo}, \text{hi}] \subseteq
        [\text{expected} - \text{tolerance},\ \text{expected} + \text{tolerance}],

    an equivalence test by interval inclusion [1]_: with a ``level`` interval it rejects
    "the rate differs from ``expected`` by more than ``tolerance``" at level
    :math:`(1-\text{level})/2`. A noisy fit (wide interval) therefore does *not* hold:
    absence of evidence against the rate is not evidence for it.

    Parameters
    ----------
    name : str
        What falls at the rate, e.g. ``"W2 to the mean-field limit vs N"``.
    fit : theorytk.stats.SlopeFit
        The fitted slope and its interval.
    expected : float
        Predicted exponent, e.g. ``-1.0`` for a ``1/N`` rate.
    tolerance : float
        Half-width (> 0) of the range of exponents accepted as equivalent.
    theorem : object with the theorem protocol, optional
        The statement the claim checks (see the module docstring); use :meth:`of`.
    basis : Mapping, optional
        How the theorem was used (set by :meth:`of`).
    sanity : str, optional
        Why the claim is kept although it is not expected to reject a planted wrong model.

    Attributes
    ----------
    holds : bool
    numbers : dict
        ``expected``, ``tolerance`` and the fit's ``slope``, ``slope_se``, ``lo``,
        ``hi``, ``level``, ``dof``, ``chi2_reduced``, ``method``.
    """

    name: str
    fit: SlopeFit
    expected: float
    tolerance: float
    theorem: object = None
    basis: Mapping | None = None
    sanity: str | None = None

    @classmethod
    def of(cls, theorem, symbol, fit, *, tolerance, limit="oo", name=None, sanity=None):
        """The claim that ``fit``'s slope equals ``theorem``'s leading power in ``symbol``.

        The expected exponent is ``theorem.exponent(symbol, limit)``, derived by sympy (e.g.
        -1 for ``Vbar/N`` in ``N``); it must be a number (not depend on other symbols).

        Parameters
        ----------
        theorem : object with the theorem protocol
            A rate needs no constant, so ``constant_known=False`` is allowed.
        symbol : str
            The swept parameter, e.g. ``"N"``.
        fit : theorytk.stats.SlopeFit
        tolerance : float
            Half-width of the equivalence range (> 0); state its reason where it is chosen.
        limit : {"oo", "0"}
            The regime of the leading power.
        name : str, optional
            Default: ``"<statement> vs <symbol>"``.
        sanity : str, optional
            As in the class.
        """
        theorem = _theorem(theorem)
        exponent = theorem.exponent(symbol, limit)
        try:
            expected = float(exponent)
        except TypeError:
            raise ValueError(f"{theorem.name}: the exponent in {symbol} is {exponent}, which depends on other "
                             f"symbols; substitute them in a theorem of its own") from None
        return cls(name if name is not None else f"{theorem.statement} vs {symbol}", fit, expected, tolerance,
                   theorem=theorem, basis={"symbol": str(symbol), "limit": limit, "exponent": expected}, sanity=sanity)

    def __post_init__(self):
        _name(self.name)
        self._provenance()
        if not isinstance(self.fit, SlopeFit):
            raise TypeError(f"fit must be a theorytk.stats.SlopeFit, got {type(self.fit).__name__}")
        object.__setattr__(self, "expected", _validate.real("expected", self.expected))
        object.__setattr__(self, "tolerance", _validate.positive("tolerance", self.tolerance))

    @property
    def holds(self):
        """The slope interval lies inside ``expected ± tolerance``."""
        return bool(
            self.expected - self.tolerance <= self.fit.lo and self.fit.hi <= self.expected + self.tolerance
        )

    @property
    def margin(self):
        """The equivalence range and the interval's level."""
        return {"tolerance": self.tolerance, "level": self.fit.level}

    @property
    def numbers(self):
        """The expected exponent, the tolerance and the fit's numbers."""
        fit = self.fit
        return {
            "expected": self.expected,
            "tolerance": self.tolerance,
            "slope": fit.slope,
            "slope_se": fit.slope_se,
            "lo": fit.lo,
            "hi": fit.hi,
            "level": fit.level,
            "dof": fit.dof,
            "chi2_reduced": fit.chi2_reduced,
            "method": fit.method,
        }

    @property
    def _verdict(self):
        """Slope, interval, and how it sits against the expected range."""
        fit = self.fit
        found = (
            f"{_METHOD_NAMES.get(fit.method, fit.method)} slope {_g(fit.slope)} with {_percent(fit.level)} interval "
            f"[{_g(fit.lo)}, {_g(fit.hi)}]"
        )
        target = f"{_g(self.expected)} ± {_g(self.tolerance)}"
        if self.holds:
            return f"{self.name} falls at the predicted rate: {found} lies inside {target}."
        if not fit.lo <= self.expected <= fit.hi:
            return f"{self.name} does not fall at the predicted rate: {found} excludes the expected {target}."
        return (
            f"{self.name} is not shown to fall at the predicted rate: {found} contains the expected "
            f"{_g(self.expected)} but is not inside {target} (more points or replicates needed)."
        )


@dataclass(frozen=True, eq=False)
class Agreement(_Judged):
    r"""Two estimates agree within k combined standard errors plus a relative tolerance.

    .. math::

        \text{holds} \iff |a_i - b_i| \le k \sqrt{\mathrm{se}_{a,i}^2 + \mathrm{se}_{b,i}^2}
        + \text{rel\_tol}\, |b_i| \ \text{for every } i

    (arrays broadcast). ``se_b = 0`` compares an estimate with an exact value;
    ``rel_tol`` allows a known deterministic discrepancy (discretisation, floating point).

    Parameters
    ----------
    name : str
        What is compared, e.g. ``"kernel vs reference energy"``.
    a, se_a : array_like of float
        First estimate and its standard error (>= 0).
    b, se_b : array_like of float
        Second estimate (or exact value) and its standard error (>= 0, default 0).
    k : float, default 3.0
        Number of combined standard errors allowed (>= 0).
    rel_tol : float, default 0.0
        Relative tolerance on ``|b|`` (>= 0).
    labels : sequence of str, optional
        One label per element of the broadcast shape (C order).
    theorem : object with the theorem protocol, optional
        The statement the claim checks (see the module docstring); use :meth:`of`.
    basis : Mapping, optional
        How the theorem was used (set by :meth:`of`).
    sanity : str, optional
        Why the claim is kept although it is not expected to reject a planted wrong model.

    Attributes
    ----------
    holds : bool
    numbers : dict
        ``worst_label`` (largest ratio of ``|a-b|`` to the allowed difference) and its
        ``worst_a``, ``worst_b``, ``worst_diff``, ``worst_combined_se``,
        ``worst_allowed``, ``worst_ratio``; ``n_points``, ``n_disagree``; and the element
        lists ``a``, ``se_a``, ``b``, ``se_b``, ``labels``.
    """

    name: str
    a: np.ndarray
    se_a: np.ndarray
    b: np.ndarray
    se_b: np.ndarray = 0.0
    k: float = 3.0
    rel_tol: float = 0.0
    labels: tuple | None = None
    theorem: object = None
    basis: Mapping | None = None
    sanity: str | None = None

    @classmethod
    def of(cls, theorem, a, se_a, at, *, name=None, k=3.0, rel_tol=0.0, labels=None, sanity=None):
        """The claim that the estimate ``a`` equals ``theorem``'s exact expression evaluated at ``at``.

        ``b = theorem.evaluate(**at)`` with ``se_b = 0``; the theorem's constant must be known.
        Other parameters as in the class; ``name`` defaults to the theorem's statement.
        """
        theorem = _theorem(theorem)
        _require_constant(theorem, "an Agreement")
        return cls(name if name is not None else theorem.statement, a, se_a, _evaluate(theorem, at), 0.0, k=k,
                   rel_tol=rel_tol, labels=labels, theorem=theorem, basis=_basis_at(at), sanity=sanity)

    def __post_init__(self):
        _name(self.name)
        self._provenance()
        arrays = _broadcast(a=self.a, se_a=self.se_a, b=self.b, se_b=self.se_b)
        _non_negative("se_a", arrays["se_a"])
        _non_negative("se_b", arrays["se_b"])
        for key, value in arrays.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "k", _validate.real("k", self.k, minimum=0.0))
        object.__setattr__(self, "rel_tol", _validate.real("rel_tol", self.rel_tol, minimum=0.0))
        object.__setattr__(self, "labels", _labels(self.labels, arrays["a"].shape))

    @property
    def _parts(self):
        """Flattened ``|a-b|``, combined SE, allowed difference and their ratio."""
        diff = np.abs(self.a - self.b).ravel()
        combined = np.hypot(self.se_a, self.se_b).ravel()
        allowed = self.k * combined + self.rel_tol * np.abs(self.b).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
        return diff, combined, allowed, ratio

    @property
    def holds(self):
        """Every ``|a-b|`` is within the allowed difference."""
        diff, _, allowed, _ = self._parts
        return bool(np.all(diff <= allowed))

    @property
    def margin(self):
        """``{"k": k, "rel_tol": rel_tol}``."""
        return {"k": self.k, "rel_tol": self.rel_tol}

    @property
    def numbers(self):
        """The verdict's numbers; see the class docstring."""
        diff, combined, allowed, ratio = self._parts
        worst = int(np.argmax(ratio))
        return {
            "worst_label": self.labels[worst],
            "worst_a": self.a.ravel()[worst],
            "worst_b": self.b.ravel()[worst],
            "worst_diff": diff[worst],
            "worst_combined_se": combined[worst],
            "worst_allowed": allowed[worst],
            "worst_ratio": ratio[worst],
            "n_points": diff.size,
            "n_disagree": int(np.count_nonzero(diff > allowed)),
            "a": self.a.ravel(),
            "se_a": self.se_a.ravel(),
            "b": self.b.ravel(),
            "se_b": self.se_b.ravel(),
            "labels": list(self.labels),
        }

    @property
    def _verdict(self):
        """The worst difference against what is allowed."""
        diff, combined, allowed, ratio = self._parts
        worst = int(np.argmax(ratio))
        rule = f"{self.k:g} combined SE" + (f" + {self.rel_tol:g}|b|" if self.rel_tol else "")
        z = f" ({_g(diff[worst] / combined[worst])} combined SE)" if combined[worst] > 0 else ""
        gap = f"|a - b| = {_g(diff[worst])}{z}"
        if self.holds:
            return (
                f"{self.name} agrees within {rule}: largest {gap}{_at(self.labels[worst])} "
                f"is {_g(ratio[worst])}x the allowed {_g(allowed[worst])}."
            )
        bad = np.count_nonzero(diff > allowed)
        return (
            f"{self.name} disagrees: {bad} of {diff.size} points differ by more than {rule}, "
            f"worst{_at(self.labels[worst])} with {gap} against the allowed {_g(allowed[worst])}."
        )


@dataclass(frozen=True)
class Check(Claim):
    """A deterministic fact, stated with its numbers (no statistical margin).

    Parameters
    ----------
    name : str
        What is checked, e.g. ``"fixed-point residual"``.
    holds : bool
        The verdict.
    numbers : Mapping[str, number or str or array]
        The numbers behind it, e.g. ``{"residual": 3e-13, "threshold": 1e-10}``; stored
        as JSON-safe values.
    sentence : str
        One sentence explaining the verdict with those numbers; what the check is about
        (theorem, sanity check, or neither) is appended to it.
    theorem : object with the theorem protocol, optional
        The statement the claim checks (see the module docstring); use :meth:`of`.
    basis : Mapping, optional
        How the theorem was used (set by :meth:`of`).
    sanity : str, optional
        Why the claim is kept although it is not expected to reject a planted wrong model.
    """

    name: str
    holds: bool
    numbers: dict
    sentence: str
    theorem: object = None
    basis: Mapping | None = None
    sanity: str | None = None

    def __post_init__(self):
        _name(self.name)
        self._provenance()
        if not isinstance(self.holds, bool | np.bool_):
            raise TypeError(f"holds must be a bool, got {self.holds!r} of type {type(self.holds).__name__}")
        if not isinstance(self.numbers, Mapping):
            raise TypeError(f"numbers must be a mapping, got {type(self.numbers).__name__}")
        if not isinstance(self.sentence, str) or not self.sentence.strip():
            raise ValueError(f"sentence must be a non-empty str, got {self.sentence!r}")
        object.__setattr__(self, "holds", bool(self.holds))
        object.__setattr__(self, "numbers", _jsonable(self.numbers))
        object.__setattr__(self, "sentence", self.sentence + self._tail())

    @property
    def margin(self):
        """None: a deterministic check has no statistical margin."""
        return None


class Verdicts(MutableSequence):
    """An ordered collection of claims: the verdict of one experiment.

    Behaves like a list of :class:`Claim` (indexing, ``append``, ``extend``, ``len``);
    anything else is refused with a ``TypeError``.

    Parameters
    ----------
    claims : iterable of Claim, optional

    Attributes
    ----------
    all_hold : bool
        True when there is at least one claim and every claim holds. An empty collection
        judged nothing, so it does not hold (an experiment that forgot its claims must not
        pass).
    """

    def __init__(self, claims=()):
        self._claims = []
        self.extend(claims)

    @staticmethod
    def _check(claim):
        if not isinstance(claim, Claim):
            raise TypeError(f"Verdicts holds claims (UpperBound, Rate, Agreement, Check), got {type(claim).__name__}")
        return claim

    def __getitem__(self, index):
        return self._claims[index]

    def __setitem__(self, index, claim):
        if isinstance(index, slice):
            self._claims[index] = [self._check(item) for item in claim]
        else:
            self._claims[index] = self._check(claim)

    def __delitem__(self, index):
        del self._claims[index]

    def __len__(self):
        return len(self._claims)

    def insert(self, index, claim):
        """Insert ``claim`` before ``index``."""
        self._claims.insert(index, self._check(claim))

    def __repr__(self):
        return f"Verdicts({self._claims!r})"

    @property
    def all_hold(self):
        """At least one claim, and every claim holds."""
        return bool(self._claims) and all(claim.holds for claim in self._claims)

    def to_dict(self):
        """``{"all_hold", "n_claims", "n_hold", "claims": [claim.to_dict(), ...]}``."""
        return {
            "all_hold": self.all_hold,
            "n_claims": len(self),
            "n_hold": sum(claim.holds for claim in self),
            "claims": [claim.to_dict() for claim in self],
        }

    def to_json(self, path):
        """Write :meth:`to_dict` as strict JSON (no NaN) to ``path``; return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    def summary(self):
        """A text table: one line per claim (PASS/FAIL, kind, name, sentence) and a total."""
        kind_width = max((len(claim.kind) for claim in self), default=0)
        name_width = max((len(claim.name) for claim in self), default=0)
        lines = [
            f"{'PASS' if claim.holds else 'FAIL'}  {claim.kind:<{kind_width}}  "
            f"{claim.name:<{name_width}}  {claim.sentence}"
            for claim in self
        ]
        verdict = "all hold" if self.all_hold else "NOT all hold"
        lines.append(f"{sum(claim.holds for claim in self)} of {len(self)} claims hold: {verdict}.")
        return "\n".join(lines)
