r"""Kernel instrumental-variable regression (Singh, Sahani & Gretton, NeurIPS 2019), exact.

With Gram matrices :math:`K = K_{XX}` (stage-1 treatments), :math:`L = K_{ZZ}` (stage-1
instruments), :math:`L_{Z\tilde Z}` (stage-1 vs stage-2 instruments):

.. math::

    \gamma_\lambda = (L + n\lambda I)^{-1}L_{Z\tilde Z}, \qquad W = K\gamma_\lambda, \qquad
    \alpha = (WW^\top + m\xi K)^{-1}W\tilde y, \qquad \hat h(x) = \alpha^\top K_{X,x}.

**Eigendecomposition reuse (derived here).** :math:`\alpha = \gamma_\lambda c` with
:math:`(\gamma_\lambda^\top K\gamma_\lambda + m\xi I)c = \tilde y` solves the system above
exactly: :math:`(WW^\top + m\xi K)\gamma c = K\gamma(\gamma^\top K\gamma c + m\xi c) = K\gamma\tilde y
= W\tilde y`; and every solution gives the same :math:`\hat h`, since two solutions differ by
a null vector of K, whose kernel expansion is the zero function. So one eigendecomposition
:math:`L = U S U^\top` serves the whole lambda grid (:math:`\gamma_\lambda = U(S + n\lambda)^{-1}U^\top
L_{Z\tilde Z}`) and one eigendecomposition :math:`M = \gamma^\top K\gamma = P\Theta P^\top` the
whole xi grid (:math:`c = P(\Theta + m\xi)^{-1}P^\top\tilde y`), instead of a dense solve per
grid point.

**Tuning, as in the authors' code** (``liyuan9988/DeepFeatureIV``, ``KernelIV/trainer.py``):
Gaussian kernels :math:`\exp(-\|a - b\|^2/\sigma)` with :math:`\sigma` the median squared
distance; lambda minimises the stage-1 loss on the stage-2 treatments
:math:`\frac1m \mathrm{tr}(K_{\tilde X\tilde X} - 2K_{\tilde XX}\gamma_\lambda + \gamma_\lambda^\top
K\gamma_\lambda)` and xi minimises :math:`\|y - K\alpha\|`, the fitted :math:`\hat h` at the
stage-1 treatments against the stage-1 outcomes (``stage2_tuning``: not a projected loss;
an earlier version of this module used :math:`\|y - (\gamma^{(1)}_\lambda)^\top K\alpha\|`,
which is not what the code does and picked xi at the grid's lower end on the demand
design); both over 50 log-spaced values in :math:`[10^{-10}, 10^{-2}]`. Both criteria use
data only (the other stage), never the truth. With a ``validation`` sample, xi minimises
the project's validation loss instead (:meth:`KernelIV.fit`).
"""
import numpy as np
from scipy import linalg

from theorytk import _validate
from theorytk.dfiv import two_stage
from theorytk.dfiv.dfiv import check_fitted, fitted_columns, fitted_rows
from theorytk.dfiv.selection import check_stages

DEFAULT_GRID = np.logspace(-10, -2, 50)
KERNELS = ("gaussian", "linear")


def _sq_dists(a, b):
    d = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def median_bandwidth(a):
    """Median of the pairwise squared distances (the KIV code's sigma), from at most 2000 rows."""
    a = a[: min(len(a), 2000)]
    d = _sq_dists(a, a)
    return float(np.median(d[np.triu_indices_from(d, 1)]))


class KernelIV:
    """Exact KIV with eigendecomposition reuse over its (lambda, xi) grid.

    Parameters
    ----------
    lam1, lam2 : float > 0, optional
        Fixed regularisation; None selects it on the authors' held-out criteria over ``grid``.
    kernel : {"gaussian", "linear"}
        "linear" uses :math:`K = XX^\\top` and :math:`L = ZZ^\\top` (the raw inputs as features):
        then KIV equals frozen-feature 2SLS (property test).
    grid : array of float > 0
    """

    def __init__(self, lam1=None, lam2=None, kernel="gaussian", grid=DEFAULT_GRID):
        self.lam1 = None if lam1 is None else _validate.positive("lam1", lam1)
        self.lam2 = None if lam2 is None else _validate.positive("lam2", lam2)
        self.kernel = _validate.choice("kernel", kernel, KERNELS)
        self.grid = _validate.array("grid", grid, ndim=1)
        if self.grid.size == 0 or np.any(self.grid <= 0):
            raise ValueError("grid must be a non-empty array of positive values")

    def _gram(self, a, b, sigma):
        return a @ b.T if self.kernel == "linear" else np.exp(-_sq_dists(a, b) / sigma)

    def fit(self, stage1, stage2, validation=None):
        """Fit on stage-1 (x, z) and stage-2 (x for the lambda criterion, z, y).

        With ``validation`` (a held-out :class:`~theorytk.dfiv.data.Sample`) and ``lam2=None``, xi
        minimises the validation loss :math:`\\frac1{m_v}\\|y_v - \\widehat E[\\hat h(X)|z_v]\\|^2`
        (this project's protocol, :mod:`theorytk.dfiv.selection`); without it, the authors'
        criterion on the stage-1 outcomes.
        """
        check_stages(stage1, stage2)
        if validation is not None:
            check_stages(validation, stage2)
        if stage1.x.shape[1] != stage2.x.shape[1]:
            raise ValueError(f"stage1.x and stage2.x need the same columns, got {stage1.x.shape[1]}, {stage2.x.shape[1]}")
        self.__dict__.pop("columns_", None)
        x1, z1, z2, y2 = stage1.x, stage1.z, stage2.z, stage2.y
        n, m = len(x1), len(z2)
        self.sigma_x = median_bandwidth(x1) if self.kernel == "gaussian" else 1.0
        self.sigma_z = median_bandwidth(z1) if self.kernel == "gaussian" else 1.0
        K, L = self._gram(x1, x1, self.sigma_x), self._gram(z1, z1, self.sigma_z)
        L12 = self._gram(z1, z2, self.sigma_z)
        s, U = linalg.eigh(L, check_finite=False, driver="evd")
        s = np.maximum(s, 0.0)
        A = U.T @ L12                                        # U^T L_{Z Z~}
        if self.lam1 is None:
            C = self._gram(stage2.x, x1, self.sigma_x) @ U   # K_{X~X} U
            B = U.T @ K @ U
            cross = np.einsum("ji,ij->i", C, A)              # diag(A C)
            H = B * (A @ A.T)
            scores = [(-2 * (cross / (s + n * lam)).sum() + (d := 1 / (s + n * lam)) @ H @ d) for lam in self.grid]
            self.lam1_ = float(self.grid[int(np.argmin(scores))])
        else:
            self.lam1_ = self.lam1
        self._U, self._s, self._n = U, s, n
        gamma = U @ (A / (s + n * self.lam1_)[:, None])      # n x m
        M = gamma.T @ K @ gamma
        theta, P = linalg.eigh((M + M.T) / 2, check_finite=False, driver="evd")
        self._gamma, self._theta, self._P, self._Pty, self._m = gamma, np.maximum(theta, 0.0), P, P.T @ y2, m
        self._x1, self._z1 = x1, z1
        if self.lam2 is None:
            if validation is None:   # the authors' criterion: h(X1) against the stage-1 outcomes
                held_out_y, R = stage1.y, (K @ gamma @ P).T
            else:                    # the validation loss: E[h(X)|z_v] against y_v
                Lv = self._gram(z1, validation.z, self.sigma_z)
                gamma1 = U @ ((U.T @ Lv) / (s + n * self.lam1_)[:, None])  # (L + n lam)^{-1} L_{Z, z_v}
                held_out_y, R = validation.y, P.T @ (gamma.T @ (K @ gamma1))
            scores = [np.mean((held_out_y - (self._Pty / (self._theta + m * xi)) @ R) ** 2) for xi in self.grid]
            self.lam2_ = float(self.grid[int(np.argmin(scores))])
        else:
            self.lam2_ = self.lam2
        self.columns_ = fitted_columns(stage1)
        self.alpha_ = self.coefficients(self.lam2_)
        return self

    def coefficients(self, lam2):
        r""":math:`\alpha(\xi) = \gamma_\lambda P(\Theta + m\xi)^{-1}P^\top\tilde y` for any xi, reusing the fit's eigendecompositions."""
        check_fitted(self)
        lam2 = _validate.positive("lam2", lam2)
        return self._gamma @ (self._P @ (self._Pty / (self._theta + self._m * lam2)))

    def predict(self, x, lam2=None):
        r""":math:`\hat h(x) = \alpha^\top K_{X,x}` (at the fitted xi, or at ``lam2`` without refitting)."""
        x = fitted_rows(self, "x", x)
        alpha = self.alpha_ if lam2 is None else self.coefficients(lam2)
        return self._gram(x, self._x1, self.sigma_x) @ alpha

    def predict_path(self, x, lam2_values):
        """Predictions at ``x`` for every xi in ``lam2_values`` (one Gram matrix), shape (len(lam2_values), len(x))."""
        x = fitted_rows(self, "x", x)
        lam2_values = _validate.array("lam2_values", lam2_values, ndim=1)
        if lam2_values.size == 0 or np.any(lam2_values <= 0):
            raise ValueError(f"lam2_values must be a non-empty array of values > 0, got {lam2_values.size} values "
                             f"with minimum {lam2_values.min(initial=np.inf):g}")
        gram = self._gram(x, self._x1, self.sigma_x)
        return np.stack([gram @ self.coefficients(xi) for xi in lam2_values])

    def predict_instrument(self, z):
        r"""Estimated :math:`E[\hat h(X)|Z=z] = \alpha^\top K (L + n\lambda)^{-1}L_{Z,z}`."""
        z = fitted_rows(self, "z", z)
        Lz = self._gram(self._z1, z, self.sigma_z)
        w = self._U @ ((self._U.T @ Lz) / (self._s + self._n * self.lam1_)[:, None])
        K = self._gram(self._x1, self._x1, self.sigma_x)
        return (K @ self.alpha_) @ w


def naive_kiv_predict(stage1, stage2, x, lam1, lam2, sigma_x, sigma_z):
    """KIV by the literal dense solves of Singh et al. (the benchmark's baseline; no reuse)."""
    K = np.exp(-_sq_dists(stage1.x, stage1.x) / sigma_x)
    L = np.exp(-_sq_dists(stage1.z, stage1.z) / sigma_z)
    L12 = np.exp(-_sq_dists(stage1.z, stage2.z) / sigma_z)
    n, m = stage1.size, stage2.size
    W = K @ np.linalg.solve(L + n * lam1 * np.eye(n), L12)
    alpha = np.linalg.solve(W @ W.T + m * lam2 * K, W @ stage2.y)
    return np.exp(-_sq_dists(np.atleast_2d(x), stage1.x) / sigma_x) @ alpha


class RandomFeatureKIV:
    r"""KIV with random Fourier features (Rahimi & Recht 2007), for large n; the authors' RFF-KIV.

    The Gaussian kernel :math:`\exp(-\|a - b\|^2/\sigma)` (sigma by the median heuristic) is
    approximated by :math:`\varphi(a)^\top\varphi(b)`, :math:`\varphi(a) = \sqrt{2/D}\cos(\Omega^\top a + \beta)`,
    :math:`\Omega \sim N(0, (2/\sigma) I)`, :math:`\beta \sim \mathcal U[0, 2\pi)`; KIV with these
    finite features is the primal two-stage closed form of :mod:`theorytk.dfiv.two_stage`
    without intercepts (push-through identity), at cost O((n + m) D^2) instead of O(n^3).
    The authors' configuration: D = 100, lambda = xi = 1e-3.

    Parameters
    ----------
    n_features : int
    lam1, lam2 : float > 0
    """

    def __init__(self, n_features=100, lam1=1e-3, lam2=1e-3):
        self.n_features = _validate.integer("n_features", n_features, minimum=1)
        self.lam1, self.lam2 = _validate.positive("lam1", lam1), _validate.positive("lam2", lam2)

    def _draw(self, rng, a):
        sigma = median_bandwidth(a)
        return rng.normal(0.0, np.sqrt(2.0 / sigma), (a.shape[1], self.n_features)), rng.uniform(0, 2 * np.pi,
                                                                                                  self.n_features)

    def _features(self, a, omega, beta):
        return np.sqrt(2.0 / self.n_features) * np.cos(np.atleast_2d(np.asarray(a, dtype=float)) @ omega + beta)

    def fit(self, stage1, stage2, *, seed=0):
        """Fit on stage-1 (x, z) and stage-2 (z, y) with features drawn from ``seed``."""
        from theorytk.random import generator

        check_stages(stage1, stage2)
        self.__dict__.pop("columns_", None)
        rng = generator(_validate.seed("seed", seed))
        self._x_map, self._z_map = self._draw(rng, stage1.x), self._draw(rng, stage1.z)
        self.fit_ = two_stage.solve(self._features(stage1.z, *self._z_map), self._features(stage1.x, *self._x_map),
                                    self._features(stage2.z, *self._z_map), stage2.y, self.lam1, self.lam2,
                                    intercept=False)
        self.columns_ = fitted_columns(stage1)
        return self

    def predict(self, x):
        r""":math:`\hat h(x) = \varphi(x)\hat u` (x with the columns of the stage-1 x)."""
        x = fitted_rows(self, "x", x)
        return two_stage.predict(self.fit_, self._features(x, *self._x_map))

    def predict_instrument(self, z):
        r"""Estimated :math:`E[\hat h(X)|Z=z] = \varphi(z)\hat V^\top\hat u`."""
        z = fitted_rows(self, "z", z)
        return two_stage.predict_instrument(self.fit_, self._features(z, *self._z_map))
