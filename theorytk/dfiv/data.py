r"""IV data sets that know their truth: structural function, operator and exact risks.

Every generator returns an :class:`IVData` with three independent samples drawn from the
same law (``stage1``, ``stage2``: the two halves that a two-stage estimator fits on, in
Xu et al.'s convention n = stage 1, m = stage 2; ``validation``: for choosing
hyperparameters, never the truth), a test design ``test_x`` with the structural function
on it, and ``mse(model)``. Every sample carries all of (x, z, y); estimators use
(x, z) of stage 1 and (z, y) of stage 2 only.

* :func:`circle_iv`: a problem whose ill-posedness is known exactly (notes dfiv.md Sec. 5,
  derived here). :math:`Z \sim \mathcal U[0,1)`, :math:`W = b(G_1 - G_2)`,
  :math:`G_i \sim \Gamma(\alpha, 1)`, :math:`X = (Z + W) \bmod 1`,
  :math:`\varepsilon = \sigma[\rho W/\mathrm{sd}(W) + \sqrt{1-\rho^2}\,\xi]`,
  :math:`Y = h(X) + \varepsilon`. W is independent of Z, so :math:`E[\varepsilon|Z] = 0`, and
  :math:`(Tf)(z) = E[f(z + W)]` multiplies the Fourier coefficient :math:`c_k` by the
  characteristic function of W, :math:`\mu_k = (1 + (2\pi b k)^2)^{-\alpha}`: the singular
  values decay as :math:`k^{-2\alpha}`, so the degree of ill-posedness is r = 2 alpha
  (d = 1). X is uniform, and the risks are exact sums over Fourier coefficients:
  :math:`\|T(\hat f - h)\|^2 = \sum_k \mu_k^2|\hat c_k - c_k|^2`,
  :math:`\|\hat f - h\|^2 = \sum_k |\hat c_k - c_k|^2`, with the coefficients of h in closed
  form and those of :math:`\hat f` by FFT on a fine grid.
* :func:`demand_design`: the demand design exactly as in the DFIV authors' code
  (``liyuan9988/DeepFeatureIV``, ``src/data/demand_design.py``): raw units, +100 offset,
  the 20 x 20 x 7 test grid. :func:`demand_design_hartford`: Hartford et al.'s scaled
  variant (ICML 2017, ``jhartford/DeepIV``): no offset, one-hot emotion, standardised price
  and outcome. Their MSEs are on different scales: never mix them.
* :func:`zoo`: the 1-D problems of DeepGMM (Bennett et al. 2019, ``AGMMZoo``):
  :math:`X = Z_1 + u + N(0, 0.1^2)`, a Gaussian convolution, i.e. *severely* ill-posed: fine
  for MSE comparisons, useless for rate checks.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from theorytk import _validate
from theorytk.random import child_generators

CIRCLE_TARGETS = ("smooth", "kink", "jump", "smooth_bump")
ZOO_TARGETS = ("abs", "linear", "sin", "step")
JUMP_INTERVAL = (0.25, 0.6)
BUMP_CENTER, BUMP_WIDTH, BUMP_HEIGHT = 0.8, 0.02, 1.0
RISK_GRID = 8192


@dataclass(frozen=True)
class Sample:
    """One i.i.d. sample: treatment ``x`` (n, d_x), instrument ``z`` (n, d_z), outcome ``y`` (n,)."""

    x: np.ndarray
    z: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        n = self.y.shape[0]
        if self.x.shape[0] != n or self.z.shape[0] != n:
            raise ValueError(f"x, z and y need the same number of rows, got {self.x.shape[0]}, {self.z.shape[0]}, {n}")

    @property
    def size(self):
        return int(self.y.shape[0])


def _predictions(model, x):
    predict = model.predict if hasattr(model, "predict") else model
    out = np.asarray(predict(x), dtype=float).reshape(-1)
    if out.shape[0] != x.shape[0] or not np.all(np.isfinite(out)):
        raise ValueError("model must return one finite prediction per row of x")
    return out


@dataclass(frozen=True)
class IVData:
    """A data set with its truth.

    Attributes
    ----------
    name : str
    stage1, stage2, validation : Sample
    test_x : ndarray, shape (n_test, d_x)
    test_f : ndarray, shape (n_test,)
        The structural function on ``test_x``.
    structural : callable
        ``structural(x)`` for x of shape (k, d_x).
    params : dict
        The generator's arguments.
    """

    name: str
    stage1: Sample
    stage2: Sample
    validation: Sample
    test_x: np.ndarray
    test_f: np.ndarray
    structural: Callable = field(repr=False)
    params: dict = field(default_factory=dict)

    def mse(self, model):
        """Mean squared error of ``model.predict`` (or a callable) against the truth on ``test_x``."""
        return float(np.mean((_predictions(model, self.test_x) - self.test_f) ** 2))


def _circle_coefficients(target, k):
    """Exact Fourier coefficients c_k = int_0^1 h(x) exp(-2 pi i k x) dx of each target."""
    k = np.asarray(k)
    c = np.zeros(k.shape, dtype=complex)
    nz = k != 0
    if target in ("smooth", "smooth_bump"):
        c[k == 1], c[k == -1] = -0.5j, 0.5j
        c[np.abs(k) == 2] = 0.25
        if target == "smooth_bump":
            c += (BUMP_HEIGHT * BUMP_WIDTH * np.sqrt(2 * np.pi) * np.exp(-2 * np.pi**2 * k**2 * BUMP_WIDTH**2)
                  * np.exp(-2j * np.pi * k * BUMP_CENTER))
    elif target == "kink":
        odd = (k % 2) != 0
        c[odd] = 4.0 / (np.pi**2 * k[odd] ** 2)
    else:  # jump: indicator of [a, b)
        a, b = JUMP_INTERVAL
        c[~nz] = b - a
        kk = k[nz]
        c[nz] = (np.exp(-2j * np.pi * kk * a) - np.exp(-2j * np.pi * kk * b)) / (2j * np.pi * kk)
    return c


def _circle_norm_sq(target):
    r""":math:`\|h\|^2_{L^2[0,1)}`, exact where a closed form exists."""
    if target == "smooth":
        return 0.625
    if target == "kink":
        return 1.0 / 3.0
    if target == "jump":
        return JUMP_INTERVAL[1] - JUMP_INTERVAL[0]
    k = np.arange(-4096, 4097)
    return float(np.sum(np.abs(_circle_coefficients(target, k)) ** 2))


def circle_structural(target, x):
    """The structural function h of :func:`circle_iv` at ``x`` (periodic with period 1)."""
    x = np.mod(np.asarray(x, dtype=float), 1.0)
    if target in ("smooth", "smooth_bump"):
        h = np.sin(2 * np.pi * x) + 0.5 * np.cos(4 * np.pi * x)
        if target == "smooth_bump":
            h = h + sum(BUMP_HEIGHT * np.exp(-((x - BUMP_CENTER + s) ** 2) / (2 * BUMP_WIDTH**2)) for s in (-1, 0, 1))
        return h
    if target == "kink":
        return 4.0 * np.abs(x - 0.5) - 1.0
    return ((x >= JUMP_INTERVAL[0]) & (x < JUMP_INTERVAL[1])).astype(float)


def _terms(terms):
    """Sieve sizes J as a non-empty integer array, each >= 1 (``ValueError``/``TypeError`` naming ``terms``)."""
    array = np.asarray(terms)
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"terms must be an integer or a non-empty 1-D array, got shape {array.shape}")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"terms must be integers, got {array.dtype.name} values")
    if np.any(array < 1):
        raise ValueError(f"terms must be >= 1, got minimum {int(array.min())}")
    return array.astype(np.int64)


def circle_embedding(x):
    r"""Periodic input map :math:`x \mapsto (\cos 2\pi x, \sin 2\pi x)` for learned features on the circle."""
    x = np.asarray(x, dtype=float).reshape(-1)
    return np.column_stack([np.cos(2 * np.pi * x), np.sin(2 * np.pi * x)])


@dataclass(frozen=True)
class CircleIV(IVData):
    """:class:`IVData` of :func:`circle_iv`, with the exact operator and risks."""

    def multiplier(self, k):
        r"""Singular values :math:`\mu_k = (1 + (2\pi b k)^2)^{-\alpha}` of T (1 for the regression control)."""
        if self.params["control"]:
            return np.ones(np.shape(k))
        b, alpha = self.params["b"], self.params["alpha"]
        return (1.0 + (2 * np.pi * b * np.asarray(k, dtype=float)) ** 2) ** (-alpha)

    def coefficients(self, k):
        """Exact Fourier coefficients of the structural function."""
        return _circle_coefficients(self.params["target"], k)

    def _error_coefficients(self, model, grid):
        x = (np.arange(grid) + 0.5) / grid
        values = _predictions(model, x[:, None])
        k = np.fft.fftfreq(grid, 1.0 / grid).astype(int)
        c_hat = np.fft.fft(values) / grid * np.exp(-1j * np.pi * k / grid)  # midpoint-grid phase
        c_true = self.coefficients(k)
        tail = _circle_norm_sq(self.params["target"]) - float(np.sum(np.abs(c_true) ** 2))
        return k, c_hat - c_true, max(tail, 0.0)

    def l2_risk(self, model, grid=RISK_GRID):
        r""":math:`\|\hat f - h\|^2_{L^2(P_X)}` (X is uniform): Parseval with h's exact coefficients.

        The coefficients of :math:`\hat f` come from an FFT of its values at ``grid``
        midpoints (aliasing-free up to frequency grid/2); h's energy above that frequency is
        added exactly.
        """
        _, diff, tail = self._error_coefficients(model, grid)
        return float(np.sum(np.abs(diff) ** 2) + tail)

    def projected_risk(self, model, grid=RISK_GRID):
        r""":math:`\|T(\hat f - h)\|^2_{L^2(P_Z)} = \sum_k \mu_k^2 |\hat c_k - c_k|^2` (tail bounded by mu_{grid/2}^2 times h's tail energy, neglected)."""
        k, diff, _ = self._error_coefficients(model, grid)
        return float(np.sum(self.multiplier(k) ** 2 * np.abs(diff) ** 2))

    def stage2_noise_variance(self):
        r"""Variance of the stage-2 regression noise, :math:`\sigma_u^2 = E[(Y - (Th)(Z))^2]`, exact.

        .. math::

            \sigma_u^2 = \sigma^2 + \|h\|^2 - \sum_k \mu_k^2 |c_k|^2 .

        Derived here: :math:`Y - (Th)(Z) = [h(X) - (Th)(Z)] + \varepsilon`.
        :math:`E[\varepsilon^2] = \sigma^2(\rho^2 + 1 - \rho^2) = \sigma^2`. Since
        :math:`(Th)(Z) = E[h(X)|Z]`, :math:`E[(h(X) - (Th)(Z))^2] = E[h(X)^2] - E[(Th)(Z)^2]`,
        which is :math:`\|h\|^2 - \sum_k \mu_k^2|c_k|^2` by Parseval (X and Z are uniform).
        The cross term vanishes: :math:`\varepsilon` is linear in W and in an independent
        :math:`\xi`; :math:`E[(Th)(Z)W] = E[(Th)(Z)]E[W] = 0` (Z independent of W, E W = 0),
        and :math:`E[h(Z + W)W] = E_W[W\,E_Z h(Z + w)|_{w=W}] = c_0 E[W] = 0` because a
        uniform Z on the circle makes :math:`E_Z h(Z + w) = c_0` for every w. Computed as
        :math:`\sigma^2 + \sum_k (1 - \mu_k^2)|c_k|^2`, summed over :math:`|k| \le K` =
        ``RISK_GRID``/2, plus h's exact energy above K times :math:`1 - \mu_K^2` (the
        error, below :math:`\mu_K^2` times that energy, is < 1e-10 for every target at the
        default b and alpha).

        Returns
        -------
        float
        """
        top = RISK_GRID // 2
        k = np.arange(-top, top + 1)
        energy = np.abs(self.coefficients(k)) ** 2
        above = max(_circle_norm_sq(self.params["target"]) - float(np.sum(energy)), 0.0)
        gap = float(np.sum((1.0 - self.multiplier(k) ** 2) * energy)) + (1.0 - float(self.multiplier(top)) ** 2) * above
        return self.params["sigma"] ** 2 + gap

    def truncation_error(self, terms):
        r"""Squared L2 distance from h to its Fourier truncation, :math:`\sum_{|k| > J}|c_k|^2`, per J in ``terms``.

        The energy above :math:`\max J` is :math:`\|h\|^2 - \sum_{|k| \le \max J}|c_k|^2`
        (exact norms, see :func:`_circle_norm_sq`); below it, the tail is summed from the
        top down, so small tails keep their relative precision.

        Parameters
        ----------
        terms : int or array_like of int, each >= 1
            Highest frequencies J.

        Returns
        -------
        ndarray of float, the shape of ``terms``
        """
        terms = _terms(terms)
        top = int(terms.max())
        k = np.arange(1, top + 1)
        energy = np.abs(self.coefficients(k)) ** 2 + np.abs(self.coefficients(-k)) ** 2    # frequencies +-k
        above_top = max(_circle_norm_sq(self.params["target"]) - float(np.abs(self.coefficients(0)) ** 2)
                        - float(np.sum(energy)), 0.0)
        tails = np.concatenate([np.cumsum(energy[::-1])[::-1][1:], [0.0]]) + above_top   # tails[j-1] = sum_{|k|>j}
        return tails[terms - 1]

    def sieve_risk_curve(self, n_stage2, terms):
        r"""Bias-variance proxy of the L2 risk of Fourier sieve 2SLS with frequencies :math:`|k| \le J`.

        .. math::

            R(J, m) = \sum_{|k| > J} |c_k|^2 + \frac{\sigma_u^2}{m}\sum_{|k| \le J}\mu_k^{-2},

        with m = ``n_stage2`` and :math:`\sigma_u^2` from :meth:`stage2_noise_variance`
        (exact, not Monte Carlo). Derived here (the spectral-cutoff estimator on a diagonal
        operator, :data:`proofs.dfiv_rates.SIEVE_PROXY_RISK`): the sieve spans
        :math:`e_k(x) = e^{2\pi i k x}`, :math:`|k| \le J` (cos/sin of frequencies 1..J and
        the intercept), and its instruments span :math:`|k| \le K` with K >= J. As
        :math:`E[e_k(X)|Z] = \mu_k e_k(Z)` lies in the instrument span, the population stage
        1 is exact; *neglecting stage-1 estimation error* (relative corrections O(K/n), n
        the stage-1 size), stage 2 is least squares of Y on :math:`\mu_k e_k(Z)`. Its
        coefficient for :math:`c_k` is, to first order in the empirical Gram matrix's
        deviation from the identity (O(J/m) relative),
        :math:`\hat c_k = c_k + \mu_k^{-1}\frac1m\sum_i \overline{e_k(Z_i)}U_i` with
        :math:`U = Y - \sum_{|k| \le J}\mu_k c_k e_k(Z)`, so
        :math:`E|\hat c_k - c_k|^2 = E[U^2]/(m\mu_k^2)` (:math:`|e_k| = 1`), while the
        coefficients above J are 0: bias :math:`\sum_{|k|>J}|c_k|^2`. Finally
        :math:`E[U^2] = \sigma_u^2 + \sum_{|k|>J}\mu_k^2|c_k|^2`; the second term is at
        most the bias and is neglected (a relative change of the variance by bias /
        :math:`\sigma_u^2`). The proxy approximates the expected risk at a fixed J; it is not
        a bound. Against simulated sieve fits (measured when written): within a few per cent
        for m >= 1000, about 7% (J = 1) and 18% (J = 3) low at m = 250 for the kink.

        Parameters
        ----------
        n_stage2 : int >= 1
            Stage-2 sample size m.
        terms : int or array_like of int, each >= 1
            Highest frequencies J (the sieve's ``terms``).

        Returns
        -------
        ndarray of float, the shape of ``terms``
        """
        m = _validate.integer("n_stage2", n_stage2, minimum=1)
        terms = _terms(terms)
        top = int(terms.max())
        k = np.arange(1, top + 1)
        inverse = np.concatenate([[1.0], 1.0 + 2.0 * np.cumsum(self.multiplier(k) ** -2.0)])  # sum_{|k|<=J} mu_k^-2
        return self.truncation_error(terms) + self.stage2_noise_variance() / m * inverse[terms]

    def oracle_sieve_proxy(self, n_stage2, terms):
        r"""Proxy risk of the oracle-tuned sieve, :math:`\min_{J \in \text{terms}} R(J, m)` (:meth:`sieve_risk_curve`).

        An oracle that picks the J with the smallest *realised* risk has an expected risk at
        most this minimum of expected risks; that selection gain (largest at small m, where
        two cutoffs have nearly equal expected risk and few noisy coefficients) is not
        modelled.

        Parameters
        ----------
        n_stage2 : int >= 1
            Stage-2 sample size m.
        terms : int or array_like of int, each >= 1
            The cutoffs J the oracle chooses from.

        Returns
        -------
        float
        """
        return float(np.min(self.sieve_risk_curve(n_stage2, terms)))


def _split_sizes(n, stage1_size, n_validation):
    n = _validate.integer("n", n, minimum=4)
    stage1 = n // 2 if stage1_size is None else _validate.integer("stage1_size", stage1_size, minimum=2, maximum=n - 2)
    n_validation = n - stage1 if n_validation is None else _validate.integer("n_validation", n_validation, minimum=2)
    return stage1, n - stage1, n_validation


def circle_iv(n, target="jump", alpha=0.5, rho=0.5, *, sigma=0.5, b=0.05, control=False, stage1_size=None,
              n_validation=None, n_test=2000, seed):
    r"""The circle problem with a Fourier-diagonal operator (r = 2 alpha exactly).

    Parameters
    ----------
    n : int
        Total training rows, split into ``stage1_size`` (default n // 2) and the rest for stage 2.
    target : {"smooth", "kink", "jump", "smooth_bump"}
        :math:`\sin 2\pi x + \tfrac12\cos 4\pi x`; :math:`4|x - \tfrac12| - 1` (Fourier
        coefficients ~ k^-2, :math:`B^2_{1,\infty}`); :math:`1_{[0.25, 0.6)}` (~ k^-1,
        :math:`B^1_{1,\infty}`); smooth plus a Gaussian bump of width 0.02 at 0.8.
    alpha : float > 0
        Gamma shape; ill-posedness r = 2 alpha. alpha = 0.5 gives W a log-singular density
        at 0 (Laplace for alpha = 1).
    rho : float in [-1, 1]
        Correlation of the noise with W (the source of endogeneity).
    sigma, b : float > 0
        Noise scale and the scale of W.
    control : bool
        Regression control: X = Z and rho = 0 (no endogeneity, T = identity).
    n_validation : int, default the stage-2 size
    n_test : int
        Test points (a midpoint grid on [0, 1)).
    seed : int or SeedSequence
    """
    _validate.choice("target", target, CIRCLE_TARGETS)
    alpha = _validate.positive("alpha", alpha)
    rho = _validate.real("rho", rho, minimum=-1.0, maximum=1.0)
    sigma, b = _validate.positive("sigma", sigma), _validate.positive("b", b)
    n1, n2, nv = _split_sizes(n, stage1_size, n_validation)
    n_test = _validate.integer("n_test", n_test, minimum=1)
    if control:
        rho = 0.0
    rngs = child_generators(_validate.seed("seed", seed), 3)
    sd_w = b * np.sqrt(2 * alpha)

    def draw(rng, size):
        z = rng.uniform(0.0, 1.0, size)
        w = b * (rng.gamma(alpha, 1.0, size) - rng.gamma(alpha, 1.0, size))
        x = z.copy() if control else np.mod(z + w, 1.0)
        eps = sigma * (rho * w / sd_w + np.sqrt(1 - rho**2) * rng.standard_normal(size))
        return Sample(x[:, None], z[:, None], circle_structural(target, x) + eps)

    test_x = ((np.arange(n_test) + 0.5) / n_test)[:, None]
    return CircleIV(
        name=f"circle_{target}", stage1=draw(rngs[0], n1), stage2=draw(rngs[1], n2), validation=draw(rngs[2], nv),
        test_x=test_x, test_f=circle_structural(target, test_x[:, 0]),
        structural=lambda x: circle_structural(target, np.asarray(x, dtype=float).reshape(-1)),
        params=dict(n=n, target=target, alpha=alpha, rho=rho, sigma=sigma, b=b, control=bool(control),
                    stage1_size=n1, r=0.0 if control else 2 * alpha))


def demand_psi(t):
    r"""Time effect of the demand design, :math:`\psi(t) = 2[(t-5)^4/600 + e^{-4(t-5)^2} + t/10 - 2]`."""
    return 2.0 * ((t - 5.0) ** 4 / 600.0 + np.exp(-4.0 * (t - 5.0) ** 2) + t / 10.0 - 2.0)


def demand_structural(x):
    r""":math:`f(p, t, s) = 100 + (10 + p)\,s\,\psi(t) - 2p` on rows ``x = (p, t, s)`` (DFIV authors' version)."""
    x = np.asarray(x, dtype=float)
    p, t, s = x[:, 0], x[:, 1], x[:, 2]
    return 100.0 + (10.0 + p) * s * demand_psi(t) - 2.0 * p


def _demand_draw(rng, size, rho):
    s = rng.integers(1, 8, size).astype(float)
    t = rng.uniform(0.0, 10.0, size)
    c = rng.standard_normal(size)
    v = rng.standard_normal(size)
    e = rho * v + np.sqrt(1 - rho**2) * rng.standard_normal(size)
    p = 25.0 + (c + 3.0) * demand_psi(t) + v
    return s, t, c, p, e


def demand_design(n=5000, rho=0.5, *, stage1_size=None, n_validation=None, seed):
    r"""The demand design of Xu et al. (ICLR 2021) exactly as in their code (raw units).

    :math:`s \sim \mathcal U\{1..7\}`, :math:`t \sim \mathcal U(0, 10)`, :math:`c, v \sim N(0,1)`,
    :math:`e = \rho v + \sqrt{1-\rho^2}N(0,1)`, :math:`p = 25 + (c+3)\psi(t) + v`,
    :math:`Y = f(p, t, s) + e` (:func:`demand_structural`). Treatment x = (p, t, s) (price with
    the observed covariates), instrument z = (c, t, s). Test: price linspace(10, 25, 20) x
    time linspace(0, 10, 20) x s in 1..7 (2800 points); the metric has no outcome noise.
    """
    rho = _validate.real("rho", rho, minimum=-1.0, maximum=1.0)
    n1, n2, nv = _split_sizes(n, stage1_size, n_validation)
    rngs = child_generators(_validate.seed("seed", seed), 3)

    def draw(rng, size):
        s, t, c, p, e = _demand_draw(rng, size, rho)
        x = np.column_stack([p, t, s])
        return Sample(x, np.column_stack([c, t, s]), demand_structural(x) + e)

    grid = np.array([(p, t, s) for p in np.linspace(10, 25, 20) for t in np.linspace(0, 10, 20)
                     for s in range(1, 8)], dtype=float)
    return IVData("demand_design", draw(rngs[0], n1), draw(rngs[1], n2), draw(rngs[2], nv), grid,
                  demand_structural(grid), demand_structural, dict(n=n, rho=rho, stage1_size=n1))


HARTFORD_PRICE_MEAN, HARTFORD_PRICE_SD = 17.779, 3.7
HARTFORD_Y_MEAN, HARTFORD_Y_SD = -292.1, 158.0


def _hartford_structural(x):
    """Standardised Hartford outcome on rows (p_std, t, onehot(s) x 7)."""
    x = np.asarray(x, dtype=float)
    p = x[:, 0] * HARTFORD_PRICE_SD + HARTFORD_PRICE_MEAN
    s = x[:, 2:9] @ np.arange(1, 8)
    g = 10.0 * s * demand_psi(x[:, 1]) + (s * demand_psi(x[:, 1]) - 2.0) * p
    return (g - HARTFORD_Y_MEAN) / HARTFORD_Y_SD


def demand_design_hartford(n=5000, rho=0.8, *, stage1_size=None, n_validation=None, n_test=2800, seed):
    r"""Hartford et al.'s scaled demand design (ICML 2017; ``jhartford/DeepIV``), NOT the DFIV version.

    :math:`g = 10 s\psi(t) + (s\psi(t) - 2)p` (no +100 offset), s one-hot (7 columns), price
    standardised with (17.779, 3.7) and outcome with (-292.1, 158); default correlation 0.8.
    Rows: x = (p_std, t, onehot(s)), z = (c, t, onehot(s)). Test: fresh covariates, price on
    an even grid between the 2.5 and 97.5 percentiles of the training price (our reading of
    the original test design; the exact grid there is not confirmed). MSEs are on the
    standardised scale: never compare them with :func:`demand_design`'s.
    """
    rho = _validate.real("rho", rho, minimum=-1.0, maximum=1.0)
    n1, n2, nv = _split_sizes(n, stage1_size, n_validation)
    n_test = _validate.integer("n_test", n_test, minimum=1)
    rngs = child_generators(_validate.seed("seed", seed), 4)

    def rows(first, t, s):
        onehot = np.eye(7)[s.astype(int) - 1]
        return np.column_stack([first, t, onehot])

    def draw(rng, size):
        s, t, c, p, e = _demand_draw(rng, size, rho)
        x = rows((p - HARTFORD_PRICE_MEAN) / HARTFORD_PRICE_SD, t, s)
        return Sample(x, rows(c, t, s), _hartford_structural(x) + e / HARTFORD_Y_SD)

    stage1 = draw(rngs[0], n1)
    lo, hi = np.percentile(stage1.x[:, 0], [2.5, 97.5])
    s, t, _, _, _ = _demand_draw(rngs[3], n_test, rho)
    test_x = rows(np.linspace(lo, hi, n_test), t, s)
    return IVData("demand_design_hartford", stage1, draw(rngs[1], n2), draw(rngs[2], nv), test_x,
                  _hartford_structural(test_x), _hartford_structural, dict(n=n, rho=rho, stage1_size=n1))


def _zoo_function(target, x):
    if target == "abs":
        return np.abs(x)
    if target == "linear":
        return x
    if target == "sin":
        return np.sin(x)
    return np.where(x < 0, 1.0, 2.5)


def zoo(target="sin", n=4000, *, stage1_size=None, n_validation=None, n_test=2000, seed):
    r"""DeepGMM's 1-D zoo (Bennett, Kallus, Schnabel 2019): severely ill-posed; MSE comparisons only.

    :math:`u \sim N(0,1)`, :math:`Z \sim \mathcal U[-3,3]^2`, :math:`X = Z_1 + u + N(0, 0.1^2)`,
    :math:`Y = g(X) + 2u + N(0, 0.1^2)`, g in {abs, linear, sin, step = 1{x<0} + 2.5 1{x>=0}}.
    Y is standardised by the mean and sd of the stage-1 outcomes, and the structural function
    by the same affine map, so the truth stays exact. Test: fresh draws of X.
    """
    _validate.choice("target", target, ZOO_TARGETS)
    n1, n2, nv = _split_sizes(n, stage1_size, n_validation)
    n_test = _validate.integer("n_test", n_test, minimum=1)
    rngs = child_generators(_validate.seed("seed", seed), 4)

    def draw(rng, size):
        u = rng.standard_normal(size)
        z = rng.uniform(-3.0, 3.0, (size, 2))
        x = z[:, 0] + u + 0.1 * rng.standard_normal(size)
        return x[:, None], z, _zoo_function(target, x) + 2.0 * u + 0.1 * rng.standard_normal(size)

    raw = [draw(rng, size) for rng, size in zip(rngs[:3], (n1, n2, nv))]
    mean, sd = float(raw[0][2].mean()), float(raw[0][2].std())
    samples = [Sample(x, z, (y - mean) / sd) for x, z, y in raw]

    def structural(x):
        return (_zoo_function(target, np.asarray(x, dtype=float).reshape(-1)) - mean) / sd

    test_x = draw(rngs[3], n_test)[0]
    return IVData(f"zoo_{target}", *samples, test_x, structural(test_x), structural,
                  dict(n=n, target=target, stage1_size=n1, y_mean=mean, y_sd=sd))
