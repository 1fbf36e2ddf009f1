r"""Sieve two-stage least squares (Newey & Powell 2003; Blundell, Chen & Kristensen 2007).

With a treatment basis :math:`\psi_J` and an instrument basis :math:`b_K` (K >= J), on the
split samples of :mod:`theorytk.dfiv.data` the estimator is the two-sample form of
:math:`\hat\beta = (\Psi^\top P_B\Psi)^{-1}\Psi^\top P_B y`: the closed forms of
:mod:`theorytk.dfiv.two_stage` with frozen features and (near-)zero ridge, i.e. DFIV with
fixed features and :math:`\lambda \to 0`. Bases:

* ``"fourier"``: :math:`\cos 2\pi jx, \sin 2\pi jx`, j = 1..J, per coordinate (inputs in
  [0, 1), the circle problem); 2 J d columns.
* ``"hermite"``: tensor products of normalised probabilists' Hermite polynomials of total
  degree 1..J in the standardised inputs (econml ``SieveTSLS``'s polynomial choice).
* ``"spline"``: tensor products of cubic B-splines with J basis functions per coordinate
  and interior knots at stage-1 quantiles.

A column of ones is appended to the instrument basis and to the predicted treatment basis
(the intercepts), as in the two-stage closed forms.
"""
import itertools
import math

import numpy as np

from theorytk import _validate
from theorytk.dfiv import two_stage
from theorytk.dfiv.dfiv import fitted_columns, fitted_rows

BASES = ("fourier", "hermite", "spline")


class Basis:
    """A basis fitted on reference inputs (standardisation, knots), evaluated on any rows.

    Parameters
    ----------
    kind : {"fourier", "hermite", "spline"}
    terms : int >= 1
        Frequencies (fourier), total degree (hermite) or B-splines per coordinate (spline, >= 4).
    """

    def __init__(self, kind, terms):
        self.kind = _validate.choice("basis", kind, BASES)
        self.terms = _validate.integer("terms", terms, minimum=4 if kind == "spline" else 1)

    def fit(self, x):
        x = np.asarray(x, dtype=float)
        self.dim = x.shape[1]
        if self.kind == "hermite":
            self.mean, self.sd = x.mean(axis=0), np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
            self.exponents = [e for total in range(1, self.terms + 1)
                              for e in itertools.product(range(total + 1), repeat=self.dim) if sum(e) == total]
        elif self.kind == "spline":
            inner = self.terms - 4
            self.knots = []
            for j in range(self.dim):
                lo, hi = x[:, j].min(), x[:, j].max()
                interior = np.quantile(x[:, j], np.linspace(0, 1, inner + 2)[1:-1]) if inner else np.empty(0)
                self.knots.append(np.concatenate([[lo] * 4, interior, [hi] * 4]))
        return self

    @property
    def size(self):
        if self.kind == "fourier":
            return 2 * self.terms * self.dim
        if self.kind == "hermite":
            return len(self.exponents)
        return self.terms**self.dim

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        if self.kind == "fourier":
            j = np.arange(1, self.terms + 1)
            cols = [f(2 * np.pi * np.outer(x[:, d], j)) for d in range(self.dim) for f in (np.cos, np.sin)]
            return np.hstack(cols) * np.sqrt(2.0)
        if self.kind == "hermite":
            from scipy.special import eval_hermitenorm   # here, not at import: scipy.special adds 60 ms to start-up

            u = (x - self.mean) / self.sd
            per = [[eval_hermitenorm(k, u[:, d]) / math.sqrt(math.factorial(k)) for k in range(self.terms + 1)]
                   for d in range(self.dim)]
            return np.column_stack([np.prod([per[d][e[d]] for d in range(self.dim)], axis=0) for e in self.exponents])
        from scipy.interpolate import BSpline   # on first use: scipy.interpolate is ~0.3 s of every start-up

        per = []
        for d in range(self.dim):
            t = self.knots[d]
            u = np.clip(x[:, d], t[0], t[-1] - 1e-12 * max(1.0, abs(t[-1])))
            per.append(BSpline.design_matrix(u, t, 3).toarray())
        out = per[0]
        for block in per[1:]:
            out = (out[:, :, None] * block[:, None, :]).reshape(out.shape[0], -1)
        return out


class SieveIV:
    """Sieve 2SLS with frozen treatment and instrument bases.

    Parameters
    ----------
    basis : {"fourier", "hermite", "spline"}
    terms : int
        Size parameter J of the treatment basis (see :class:`Basis`).
    instrument_terms : int, optional
        Size parameter K of the instrument basis; default 2 J (over-identified).
    instrument_basis : str, optional
        Default: the treatment basis.
    lam1, lam2 : float >= 0
        Stage ridges (lambda times n scaling as in :mod:`two_stage`); the default 1e-10 is
        numerically zero (plain 2SLS) but keeps the solves defined.
    """

    def __init__(self, basis="fourier", terms=8, instrument_terms=None, instrument_basis=None, lam1=1e-10,
                 lam2=1e-10):
        self.treatment_basis = Basis(basis, terms)
        self.instrument_basis = Basis(basis if instrument_basis is None else instrument_basis,
                                      2 * terms if instrument_terms is None else instrument_terms)
        self.lam1 = _validate.real("lam1", lam1, minimum=0.0)
        self.lam2 = _validate.real("lam2", lam2, minimum=0.0)

    def fit(self, stage1, stage2):
        """Fit on stage-1 (x, z) and stage-2 (z, y); returns self."""
        from theorytk.dfiv.selection import check_stages

        check_stages(stage1, stage2)
        self.__dict__.pop("columns_", None)
        self.treatment_basis.fit(stage1.x)
        self.instrument_basis.fit(stage1.z)
        columns = self.instrument_basis.size + 1
        if stage1.size < columns or stage2.size < self.treatment_basis.size + 1:
            raise ValueError(f"too few samples for the basis: stage 1 has {stage1.size} rows for {columns} instrument "
                             f"columns, stage 2 has {stage2.size} rows for {self.treatment_basis.size + 1} treatment columns")
        phi1 = two_stage.with_intercept(self.instrument_basis(stage1.z))
        phi2 = two_stage.with_intercept(self.instrument_basis(stage2.z))
        self.fit_ = two_stage.solve(phi1, self.treatment_basis(stage1.x), phi2, stage2.y, self.lam1, self.lam2)
        self.columns_ = fitted_columns(stage1)
        return self

    def predict(self, x):
        r""":math:`\hat f(x) = [\psi_J(x), 1]\hat u` (x with the columns of the stage-1 x)."""
        x = fitted_rows(self, "x", x)
        return two_stage.predict(self.fit_, self.treatment_basis(x))

    def predict_instrument(self, z):
        r"""Estimated :math:`E[\hat f(X)|Z=z] = [b_K(z), 1]\hat V^\top\hat u` (for validation losses)."""
        z = fitted_rows(self, "z", z)
        return two_stage.predict_instrument(self.fit_, two_stage.with_intercept(self.instrument_basis(z)))
