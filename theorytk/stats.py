"""Summary statistics of replicated simulations: mean, standard error, intervals, slopes.

Everything here treats replicates as independent draws. A power law ``y = C x**s`` is
fitted as the straight line ``log y = log C + s log x``; the slope ``s`` is the rate a
theorem predicts and :class:`theorytk.claims.Rate` judges its interval.

References
----------
.. [1] P. R. Bevington and D. K. Robinson, *Data Reduction and Error Analysis for the
   Physical Sciences*, 3rd ed., McGraw-Hill, 2003, chapters 6-7 (weighted straight-line
   fit, reduced chi-square).
.. [2] R. T. Birge, "The calculation of errors by the method of least squares",
   *Physical Review* 40, 207-227, 1932 (scaling errors by the square root of the
   reduced chi-square, the "Birge ratio").
.. [3] B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall,
   1993, chapter 13 (percentile intervals).
"""
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

from theorytk import _validate

__all__ = ["SlopeFit", "bootstrap_slope", "loglog_slope", "mean_se", "t_interval"]


def _level(level):
    """Return ``level`` as a float in the open interval (0, 1)."""
    level = _validate.real("level", level, minimum=0.0, strict_minimum=True)
    if level >= 1.0:
        raise ValueError(f"level must be < 1 (a confidence level such as 0.95), got {level}")
    return level


def _mean_se_n(x, axis):
    x = _validate.array("x", x)
    axis = _validate.integer("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"x needs at least 2 replicates along axis {axis} to estimate a standard error, got {n}")
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(n), n


def mean_se(x, axis=0):
    r"""Sample mean and its standard error along an axis of replicates.

    .. math::

        \bar x = \frac1n \sum_{r=1}^n x_r, \qquad
        \operatorname{se} = \frac{s}{\sqrt n}, \qquad
        s^2 = \frac{1}{n-1} \sum_{r=1}^n (x_r - \bar x)^2 .

    Parameters
    ----------
    x : array_like of float
        Replicated values; finite.
    axis : int, default 0
        The axis that indexes replicates (length ``n >= 2``).

    Returns
    -------
    mean, se : numpy.ndarray or numpy.float64
        Shape of ``x`` without ``axis``.

    Raises
    ------
    ValueError
        Fewer than 2 replicates, non-finite values, or an axis out of range.

    Examples
    --------
    >>> mean_se([1.0, 2.0, 3.0])
    (np.float64(2.0), np.float64(0.5773502691896258))
    """
    mean, se, _ = _mean_se_n(x, axis)
    return mean, se


def t_interval(x, level=0.95, axis=0):
    r"""Student-t confidence interval for the mean along an axis of replicates.

    .. math::

        \bar x \pm t_{n-1,\,(1+\text{level})/2}\; \frac{s}{\sqrt n},

    exact for Gaussian replicates and asymptotically valid otherwise (central limit
    theorem).

    Parameters
    ----------
    x : array_like of float
        Replicated values; finite.
    level : float, default 0.95
        Confidence level in (0, 1).
    axis : int, default 0
        The axis that indexes replicates (length ``n >= 2``).

    Returns
    -------
    lo, hi : numpy.ndarray or numpy.float64
        Ends of the interval; shape of ``x`` without ``axis``.

    Raises
    ------
    ValueError
        As :func:`mean_se`, or ``level`` outside (0, 1).
    """
    level = _level(level)
    mean, se, n = _mean_se_n(x, axis)
    half = stdtrit(n - 1, 0.5 + level / 2) * se
    return mean - half, mean + half


@dataclass(frozen=True)
class SlopeFit:
    """A fitted power law ``y = exp(intercept) * x**slope`` with an interval for the slope.

    Attributes
    ----------
    slope : float
        Fitted exponent ``s`` of ``log y = a + s log x``.
    intercept : float
        Fitted ``a`` (natural logarithm of the prefactor).
    slope_se : float
        Standard error of the slope (for ``method="bootstrap"``, the standard deviation of
        the bootstrap slopes).
    lo, hi : float
        Ends of the ``level`` confidence interval for the slope.
    level : float
        Confidence level of ``[lo, hi]``.
    dof : int
        Residual degrees of freedom, number of points minus 2.
    chi2_reduced : float or None
        Weighted residual sum of squares over ``dof`` for ``method="wls"``; ``None`` for
        unweighted fits, where it is not defined.
    method : {"ols", "wls", "bootstrap"}
        How the slope and its interval were obtained (see :func:`loglog_slope` and
        :func:`bootstrap_slope`).
    """

    slope: float
    intercept: float
    slope_se: float
    lo: float
    hi: float
    level: float
    dof: int
    chi2_reduced: float | None
    method: str

    def predict(self, x):
        """Evaluate the fitted power law ``exp(intercept) * x**slope`` at ``x``."""
        return np.exp(self.intercept) * np.asarray(x, dtype=float) ** self.slope


def _log_positive(name, value, n=None):
    """Validate a 1-D positive vector (of length ``n`` when given) and return its log."""
    value = _validate.array(name, value, ndim=1, shape=None if n is None else (n,))
    if np.any(value <= 0):
        raise ValueError(f"{name} must be > 0 for a log-log fit, got minimum {value.min()!r}")
    return np.log(value)


def _log_abscissa(x, minimum_points):
    u = _log_positive("x", x)
    if u.size < minimum_points:
        raise ValueError(f"x needs at least {minimum_points} points for this slope fit, got {u.size}")
    if np.ptp(u) == 0:
        raise ValueError("x must take at least 2 distinct values to define a slope")
    return u


def _fit_line(u, v, w):
    """Weighted least-squares line through ``(u, v)``; ``v`` may stack fits on leading axes.

    Returns slope, intercept, ``S_uu = sum w (u - u_w)^2`` and ``chi2 = sum w r^2``.
    """
    u_bar = w @ u / w.sum()
    uc = u - u_bar
    s_uu = w @ uc**2
    slope = v @ (w * uc) / s_uu
    intercept = v @ w / w.sum() - slope * u_bar
    residual = v - np.expand_dims(intercept, -1) - np.expand_dims(slope, -1) * u
    return slope, intercept, s_uu, residual**2 @ w


def loglog_slope(x, y, y_se=None, level=0.95):
    r"""Fit ``log y = a + s log x`` and give a Student-t interval for the exponent ``s``.

    With :math:`u_i = \log x_i`, :math:`v_i = \log y_i` and weights :math:`w_i`, the
    least-squares line is

    .. math::

        \hat s = \frac{\sum_i w_i (u_i - \bar u_w)(v_i - \bar v_w)}{S_{uu}}, \quad
        S_{uu} = \sum_i w_i (u_i - \bar u_w)^2, \quad
        \hat a = \bar v_w - \hat s\, \bar u_w,

    where :math:`\bar u_w = \sum_i w_i u_i / \sum_i w_i` (likewise :math:`\bar v_w`).

    * Without ``y_se`` (ordinary least squares, ``method="ols"``): :math:`w_i = 1` and
      :math:`\operatorname{se}(\hat s) = \sqrt{\hat\sigma^2 / S_{uu}}` with the residual
      variance :math:`\hat\sigma^2 = \sum_i r_i^2 / (n-2)`.
    * With ``y_se`` (weighted least squares, ``method="wls"``): by the delta method
      :math:`\operatorname{var}(\log y_i) \approx (\mathrm{se}_i / y_i)^2`, so
      :math:`w_i = (y_i / \mathrm{se}_i)^2`. With
      :math:`\chi^2_\nu = \sum_i w_i r_i^2 / (n-2)`,
      :math:`\operatorname{se}(\hat s) = \sqrt{\max(1, \chi^2_\nu) / S_{uu}}`: the stated
      errors are trusted when the points scatter no more than they say, and scaled up by
      the Birge ratio :math:`\sqrt{\chi^2_\nu}` when they scatter more (model error, a
      power law that is only asymptotic, or underestimated ``y_se``) [2]_.

    In both cases the interval is :math:`\hat s \pm t_{n-2,(1+\text{level})/2}\,
    \operatorname{se}(\hat s)` [1]_. It is exact for OLS with Gaussian scatter in
    ``log y``, and conservative for WLS with correct ``y_se`` (the t quantile and the
    floor at 1 both widen it).

    Parameters
    ----------
    x : array_like of float, shape (n,)
        Positive abscissae (e.g. particle numbers), at least 2 distinct; ``n >= 3``.
    y : array_like of float, shape (n,)
        Positive values (e.g. replicate means of an error).
    y_se : array_like of float, shape (n,), optional
        Positive standard errors of ``y``; switches to weighted least squares.
    level : float, default 0.95
        Confidence level in (0, 1).

    Returns
    -------
    SlopeFit

    Raises
    ------
    ValueError
        Non-positive or non-finite input, mismatched lengths, fewer than 3 points,
        a single distinct ``x``, or ``level`` outside (0, 1).

    Examples
    --------
    >>> fit = loglog_slope([1, 2, 4, 8], [3.0, 1.5, 0.75, 0.375])
    >>> round(fit.slope, 12), round(float(fit.predict(16)), 12)
    (-1.0, 0.1875)
    """
    level = _level(level)
    u = _log_abscissa(x, minimum_points=3)
    v = _log_positive("y", y, u.size)
    if y_se is None:
        w = np.ones_like(u)
    else:
        w = np.exp(2 * (v - _log_positive("y_se", y_se, u.size)))
    slope, intercept, s_uu, chi2 = _fit_line(u, v, w)
    dof = u.size - 2
    if y_se is None:
        chi2_reduced = None
        scale = chi2 / dof
    else:
        chi2_reduced = float(chi2 / dof)
        scale = max(1.0, chi2_reduced)
    slope_se = float(np.sqrt(scale / s_uu))
    half = stdtrit(dof, 0.5 + level / 2) * slope_se
    return SlopeFit(
        slope=float(slope),
        intercept=float(intercept),
        slope_se=slope_se,
        lo=float(slope - half),
        hi=float(slope + half),
        level=level,
        dof=dof,
        chi2_reduced=chi2_reduced,
        method="ols" if y_se is None else "wls",
    )


def bootstrap_slope(x, samples, level=0.95, n_boot=2000, *, seed):
    r"""Percentile-bootstrap interval for the log-log slope of the replicate mean.

    The point estimate is the OLS slope of :math:`\log \bar y_j` against
    :math:`\log x_j`, where :math:`\bar y_j` is the mean of column ``j`` of ``samples``.
    Each of ``n_boot`` resamples draws ``reps`` rows of ``samples`` with replacement
    (the same rows for every ``x``, so any correlation between columns, e.g. common
    random numbers, is kept; for independent columns this is also valid), recomputes
    the column means and their OLS slope; ``[lo, hi]`` are the
    :math:`(1 \mp \text{level})/2` quantiles of those slopes [3]_. The interval makes no
    Gaussian or power-law-residual assumption, but it is only asymptotically exact: it
    undercovers by :math:`O(1/\text{reps})`.

    Parameters
    ----------
    x : array_like of float, shape (k,)
        Positive abscissae, at least 2 distinct.
    samples : array_like of float, shape (reps, k)
        Replicate ``r`` of the quantity at ``x[j]``; ``reps >= 2``. Every column mean,
        also of every resample, must be positive.
    level : float, default 0.95
        Confidence level in (0, 1).
    n_boot : int, default 2000
        Number of bootstrap resamples, at least 100.
    seed : int or numpy.random.SeedSequence
        Seed of the resampling (PCG64); same seed, same interval.

    Returns
    -------
    SlopeFit
        With ``method="bootstrap"``, ``slope_se`` the standard deviation of the bootstrap
        slopes, ``dof = k - 2`` and ``chi2_reduced=None``.

    Raises
    ------
    ValueError
        Bad shapes or values (see above), or a resample whose mean is not positive (the
        logarithm is undefined: the quantity is too noisy around zero for a log-log slope).
    """
    level = _level(level)
    n_boot = _validate.integer("n_boot", n_boot, minimum=100)
    seed = _validate.seed("seed", seed)
    u = _log_abscissa(x, minimum_points=2)
    samples = _validate.array("samples", samples, ndim=2, shape=(None, u.size))
    reps = samples.shape[0]
    if reps < 2:
        raise ValueError(f"samples needs at least 2 replicates (rows), got {reps}")
    log_mean = _log_positive("mean of samples over replicates", samples.mean(axis=0))
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, reps, size=(n_boot, reps)) + reps * np.arange(n_boot)[:, None]
    counts = np.bincount(rows.ravel(), minlength=n_boot * reps).reshape(n_boot, reps)
    boot_means = counts @ samples / reps
    bad = np.count_nonzero(np.any(boot_means <= 0, axis=1))
    if bad:
        raise ValueError(
            f"the resampled mean is not positive in {bad} of {n_boot} resamples; "
            "the log-log slope is undefined for a quantity this noisy around zero"
        )
    ones = np.ones_like(u)
    slope, intercept, _, _ = _fit_line(u, log_mean, ones)
    boot_slopes, _, _, _ = _fit_line(u, np.log(boot_means), ones)
    lo, hi = np.quantile(boot_slopes, [0.5 - level / 2, 0.5 + level / 2])
    return SlopeFit(
        slope=float(slope),
        intercept=float(intercept),
        slope_se=float(boot_slopes.std(ddof=1)),
        lo=float(lo),
        hi=float(hi),
        level=level,
        dof=u.size - 2,
        chi2_reduced=None,
        method="bootstrap",
    )
