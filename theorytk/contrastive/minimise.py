"""Minimise the mini-batch contrastive objective on the product of unit spheres.

Projected (Riemannian) gradient descent with the normalising retraction, many independent
restarts at once (:func:`theorytk.contrastive._kernels.minimise`, parallel over restarts).
Restart ``r`` starts from Gaussian ``U``, ``V`` with unit rows drawn from child ``r`` of
``seed`` (:func:`theorytk.random.child_generators`), as in the authors' ``get_embeddings``,
so a restart's numbers do not depend on how many run beside it. The certificate of each
restart is its projected gradient norm: zero exactly at the constrained stationary points
(the Lagrange conditions :math:`\\nabla_{u_i} L = \\lambda_i u_i`).
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.contrastive import _kernels
from theorytk.contrastive.batches import check_batches
from theorytk.errors import SolverFailure
from theorytk.random import child_generators

#: Default step ``0.5 N min(1, tau)^2``: the Hessian of the averaged objective scales like 1/(N tau^2) per
#: row for tau <= 1; for tau > 1 the step stays 0.5 N (a larger one oscillates at tau = 2, measured).
DEFAULT_LR_PER_N = 0.5


#: A final row whose norm is further than this from 1 means a retraction overflowed (the step was too large).
UNIT_ROW_TOL = 1e-8


class MinimiserDiverged(SolverFailure, FloatingPointError):
    """A restart of :func:`minimise` left the spheres (a retraction overflowed) or ended non-finite."""


@dataclass(frozen=True, eq=False)
class ContrastiveSolution:
    """Restarts of the minimiser and their certificates.

    Attributes
    ----------
    U, V : ndarray, shape (R, N, d)
        Final embeddings of each restart (unit rows).
    loss : ndarray, shape (R,)
        Objective at the final point.
    gradient_norm : ndarray, shape (R,)
        Frobenius norm of the projected gradient there (the stationarity certificate).
    steps : ndarray of int64, shape (R,)
        Gradient steps taken.
    tol : float
        The requested gradient-norm tolerance.
    """

    U: np.ndarray
    V: np.ndarray
    loss: np.ndarray
    gradient_norm: np.ndarray
    steps: np.ndarray
    tol: float

    @property
    def gram(self):
        """:math:`U U^\\top` per restart, shape (R, N, N)."""
        return self.U @ np.swapaxes(self.U, 1, 2)

    @property
    def converged(self):
        """Restarts whose gradient norm reached ``tol``."""
        return self.gradient_norm <= self.tol

    @property
    def alignment(self):
        """:math:`\\max_i \\|u_i - v_i\\|` per restart."""
        return np.max(np.linalg.norm(self.U - self.V, axis=2), axis=1)

    def etf_deviation(self):
        """:math:`\\max_{i \\ne j} |u_i\\cdot u_j + 1/(N-1)|` per restart (0 exactly at the simplex ETF)."""
        N = self.U.shape[1]
        off = ~np.eye(N, dtype=bool)
        return np.max(np.abs(self.gram[:, off] + 1.0 / (N - 1)), axis=1)


def default_lr(N, tau):
    """The default step ``0.5 N min(1, tau)^2`` of :func:`minimise` (see :data:`DEFAULT_LR_PER_N`)."""
    return DEFAULT_LR_PER_N * N * min(1.0, tau) ** 2


def initial_points(N, d, restarts, seed):
    """Gaussian ``(U, V)`` with unit rows, restart ``r`` from child generator ``r``: shape (R, 2, N, d)."""
    out = np.empty((restarts, 2, N, d))
    for r, rng in enumerate(child_generators(seed, restarts)):
        x = rng.standard_normal((2, N, d))
        out[r] = x / np.linalg.norm(x, axis=2, keepdims=True)
    return out


def minimise(N, d, batches, *, tau=1.0, symmetric=True, restarts=8, lr=None, tol=1e-10, max_steps=20000, seed=0):
    """Projected gradient descent of the mini-batch objective from ``restarts`` random starts.

    Parameters
    ----------
    N : int
        Number of pairs (>= 2).
    d : int
        Embedding dimension (>= 1).
    batches : array_like of int, shape (m, B)
        Batch list, e.g. :func:`~theorytk.contrastive.batches.all_batches`.
    tau : float, default 1.0
        Temperature (>= 0.01, :data:`~theorytk.contrastive._kernels.TAU_MIN`).
    symmetric : bool, default True
        Symmetric InfoNCE (False: the u-to-v term only).
    restarts : int, default 8
    lr : float, optional
        Step size (> 0); default ``0.5 N min(1, tau)^2`` (converges for every N <= 10, B, d in
        {N-1, N, 2N, N/2}, tau in {0.5, 1, 2} of the validation's protocol, measured).
    tol : float, default 1e-10
        Stop a restart when its projected gradient norm is ``<= tol`` (> 0).
    max_steps : int, default 20000
    seed : int or numpy.random.SeedSequence, default 0

    Returns
    -------
    ContrastiveSolution

    Raises
    ------
    MinimiserDiverged
        A restart ended with a row off the unit sphere or a non-finite loss or gradient
        norm (a step ``lr`` so large that ``x - lr g`` overflowed; was: zero rows reported as
        converged), with the restart, its step count and a hint.
    """
    N = _validate.integer("N", N, minimum=2)
    d = _validate.integer("d", d, minimum=1)
    batches = check_batches(batches, N)
    symmetric = _validate.flag("symmetric", symmetric)
    tau = _validate.real("tau", tau, minimum=_kernels.TAU_MIN)
    restarts = _validate.integer("restarts", restarts, minimum=1)
    lr = default_lr(N, tau) if lr is None else _validate.positive("lr", lr)
    tol = _validate.positive("tol", tol)
    max_steps = _validate.integer("max_steps", max_steps, minimum=0)
    X = initial_points(N, d, restarts, seed)
    loss = np.empty(restarts)
    gnorm = np.empty(restarts)
    steps = np.empty(restarts, dtype=np.int64)
    _kernels.minimise(X, batches, tau, bool(symmetric), lr, tol, max_steps, loss, gnorm, steps)
    _check_restarts(X, loss, gnorm, steps, lr)
    return ContrastiveSolution(X[:, 0].copy(), X[:, 1].copy(), loss, gnorm, steps, tol)


def _check_restarts(X, loss, gnorm, steps, lr):
    """Raise :class:`MinimiserDiverged` for the first restart off the spheres or with a non-finite certificate."""
    with np.errstate(invalid="ignore"):
        off = np.abs(np.linalg.norm(X, axis=3) - 1.0).max(axis=(1, 2))
    bad = ~(off <= UNIT_ROW_TOL) | ~np.isfinite(loss) | ~np.isfinite(gnorm)
    if bad.any():
        r = int(np.argmax(bad))
        raise MinimiserDiverged(
            f"restart {r} diverged by step {int(steps[r])}: a row ended off the unit sphere by {off[r]:.3g} (loss "
            f"{loss[r]:.3g}, gradient norm {gnorm[r]:.3g}); the step lr = {lr:g} is too large (x - lr g overflowed "
            "in the retraction): lower lr, or leave it None for the default 0.5 N min(1, tau)^2")
