"""In-context linear-regression prompts that know their truth.

A prompt is n pairs (x_j, y_j) with y_j = <w*, x_j>, x_j ~ N(0, Sigma) and w* ~ N(0, I_d)
(Huang, Wang, Lee, ICLR 2025, arXiv 2502.21212, as restated by Javanmard et al., arXiv
2603.01293, Sec. 3). Training uses Sigma = I; ``scale`` (Sigma = scale^2 I) or a general
``covariance`` gives out-of-distribution prompts (Huang et al.'s Thm 4.2 setting: a test
covariance with spectrum in a bounded range).
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.random import generator


@dataclass(frozen=True, eq=False)
class RegressionPrompts:
    """A batch of prompts.

    Attributes
    ----------
    X : numpy.ndarray, shape (batch, n, d)
    y : numpy.ndarray, shape (batch, n)
    w_star : numpy.ndarray, shape (batch, d)
    scale : float
        Standard deviation of the x entries when ``covariance`` is None.
    covariance : numpy.ndarray or None, shape (d, d)
        The population covariance Sigma of x (None: scale^2 I); see :attr:`sigma`.
    """

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    scale: float = 1.0
    covariance: np.ndarray | None = None

    def __post_init__(self):
        X = _validate.array("X", self.X, ndim=3)
        batch, n, d = X.shape
        if batch < 1 or n < 1 or d < 1:
            raise ValueError(f"X must have shape (batch, n, d) with every size >= 1, got {X.shape}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", _validate.array("y", self.y, shape=(batch, n)))
        object.__setattr__(self, "w_star", _validate.array("w_star", self.w_star, shape=(batch, d)))
        object.__setattr__(self, "scale", _validate.positive("scale", self.scale))
        if self.covariance is not None:
            object.__setattr__(self, "covariance", _covariance(self.covariance, d))

    @property
    def sigma(self):
        """The population covariance of x, shape (d, d)."""
        return self.scale**2 * np.eye(self.d) if self.covariance is None else self.covariance.copy()

    @property
    def batch(self):
        return self.X.shape[0]

    @property
    def n(self):
        return self.X.shape[1]

    @property
    def d(self):
        return self.X.shape[2]

    def covariances(self):
        """The empirical covariances S = X^T X / n, shape (batch, d, d)."""
        return np.matmul(self.X.transpose(0, 2, 1), self.X) / self.n

    def rotated(self, Q):
        """The same prompts with x -> Q x and w* -> Q w* (Q orthogonal d x d); y is unchanged."""
        Q = _validate.array("Q", Q, shape=(self.d, self.d))
        if not np.allclose(Q @ Q.T, np.eye(self.d), atol=1e-10):
            raise ValueError("Q must be orthogonal (Q Q^T = I to 1e-10)")
        covariance = None if self.covariance is None else Q @ self.covariance @ Q.T
        return RegressionPrompts(self.X @ Q.T, self.y, self.w_star @ Q.T, self.scale, covariance)


def _covariance(covariance, d):
    """A symmetric positive definite d x d matrix, or ValueError naming what is wrong."""
    covariance = _validate.array("covariance", covariance, shape=(d, d))
    if not np.allclose(covariance, covariance.T, rtol=1e-12, atol=1e-12):
        raise ValueError("covariance must be symmetric")
    lowest = float(np.linalg.eigvalsh(covariance)[0])
    if lowest <= 0:
        raise ValueError(f"covariance must be positive definite, got smallest eigenvalue {lowest:.3g}")
    out = np.array(covariance, dtype=float)
    out.setflags(write=False)
    return out


def regression_prompts(d, n, batch, seed, scale=1.0, covariance=None):
    """Draw ``batch`` prompts of ``n`` pairs in dimension ``d``.

    Parameters
    ----------
    d, n, batch : int
        Each >= 1.
    seed : int or numpy.random.SeedSequence
    scale : float
        x ~ N(0, scale^2 I_d) when ``covariance`` is None; 1 is the training distribution.
    covariance : array_like, shape (d, d), optional
        x ~ N(0, covariance) (symmetric positive definite): x = L z with L L^T = covariance
        (Cholesky) and z ~ N(0, I_d); ``scale`` must then be 1.

    Returns
    -------
    RegressionPrompts
    """
    d = _validate.integer("d", d, minimum=1)
    n = _validate.integer("n", n, minimum=1)
    batch = _validate.integer("batch", batch, minimum=1)
    scale = _validate.positive("scale", scale)
    if covariance is not None:
        covariance = _covariance(covariance, d)
        if scale != 1.0:
            raise ValueError(f"give scale or covariance, not both (got scale={scale})")
    rng = generator(_validate.seed("seed", seed))
    w_star = rng.standard_normal((batch, d))
    X = scale * rng.standard_normal((batch, n, d))
    if covariance is not None:
        X = X @ np.linalg.cholesky(covariance).T
    return RegressionPrompts(X, np.einsum("bja,ba->bj", X, w_star), w_star, scale, covariance)
