r"""Solves with :math:`A = I - P_{UU}` for a clustered chain: GMRES with the clusters deflated.

Why not a sparse LU. Inside an expander-like cluster of :math:`M` states every elimination
order fills in about :math:`M^2` entries (expanders have no small separators), so SuperLU
costs about :math:`M^3` per cluster: measured here, 0.17 s for 16 clusters of 640 states
and 30.8 s for 32 clusters of 3200 (issue 17, part 8).

Why not plain ILU + GMRES. :math:`A` restricted to one cluster is nearly singular: the
cluster's exits leak only :math:`\varepsilon q` of mass, so the cluster-constant vector
:math:`\mathbf 1_C` has :math:`\|A \mathbf 1_C\| = O(\varepsilon)` and :math:`A` has
:math:`K` eigenvalues of size :math:`O(\varepsilon/M)` (the metastable ladder). A local
preconditioner does not see them; an earlier GMRES + ILU did not converge in 10,000
iterations on 51,200 states.

The method. The coarse space is spanned by the indicator vectors of the clusters (restricted
to the free states), :math:`Z \in \{0,1\}^{n \times G}`, and the coarse matrix is the
Galerkin product :math:`A_c = Z^T A Z` (:math:`G \times G`, sparse: :math:`(A_c)_{kl}` is
minus the probability flow from cluster :math:`k` to :math:`l`, its row sums the escape to
the target): the aggregation of Takahashi (1975) and Koury, McAllister and Stewart (SIAM J.
Alg. Disc. Meth. 5, 1984) for nearly completely decomposable chains. :math:`A_c` is a
nonsingular M-matrix whenever every free state reaches the target (its rows are the lumped
chain killed at the target), and it is factorised once by SuperLU. With the coarse
correction :math:`Q = Z A_c^{-1} Z^T` and the Jacobi smoother :math:`D^{-1}`,
:math:`D = \mathrm{diag}(A)`, the preconditioner is the two-level cycle "coarse, then
smooth" (A-DEF1 in Tang, Nabben, Vuik, Erlangga, J. Sci. Comput. 39, 2009):

.. math::

    B v = Q v + D^{-1}(v - A Q v).

The coarse solve removes the :math:`O(\varepsilon)` cluster directions, so the preconditioned
operator's spectrum is governed by the clusters' own mixing, not by :math:`\varepsilon`: for
:func:`~theorytk.metastable.cot_chain` clusters GMRES needs about 45 iterations to reach
machine precision for every cluster size from 64 to 4096. Each iteration costs two
products with :math:`A`, one coarse solve (of size :math:`G`) and the Gram-Schmidt
of a Krylov basis of at most ``RESTART`` vectors, so the cost is linear in the number of
stored entries. (The symmetrised cycle, coarse-smooth-coarse, took the same number of
iterations here at one more product each.)

GMRES (Saad and Schultz, SIAM J. Sci. Stat. Comput. 7, 1986) is right-preconditioned
(its residual estimate is the true residual's), restarted every ``RESTART`` steps, with
classical Gram-Schmidt applied twice ("twice is enough": Giraud, Langou, Rozlozník,
Comput. Math. Appl. 50, 2005). The stopping rule is the normwise backward error of
Rigal and Gaches (J. ACM 14, 1967; Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., Thm. 7.1),

.. math::

    \omega(x) = \frac{\|b - A x\|_\infty}{\|A\|_\infty \|x\|_\infty + \|b\|_\infty},

the smallest relative perturbation of :math:`A` and :math:`b` that :math:`x` solves
exactly: the returned :math:`x` satisfies :math:`\omega(x) \le` ``TOLERANCE`` (a few units
of roundoff, as a backward-stable LU does), or, where roundoff in the residual stalls the
iteration first (a restart cycle that does not halve :math:`\omega`),
:math:`\omega(x) \le` ``ACCEPT``; otherwise (stalled above ``ACCEPT``, or more than
``MAX_ITERATIONS`` steps) :class:`NotConverged` is raised and the caller falls back to the
sparse LU. Measured against a solution refined with long-double residuals, the GMRES answer
was 2-6x closer than SuperLU's on cot_chain systems of 256 to 102,400 states (e.g.
9.4e-11 against 5.4e-10 relative at 400 x 256 states, eps = 1e-3).
"""
import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["ACCEPT", "ClusterDeflatedSolver", "MAX_ITERATIONS", "NotConverged", "RESTART", "TOLERANCE"]

TOLERANCE = 4 * np.finfo(np.float64).eps  # stop: backward error within a few units of roundoff
ACCEPT = 1e-13  # accepted when the residual's roundoff stalls GMRES above TOLERANCE
RESTART = 12  # Krylov vectors kept (memory: RESTART + 1 vectors of the free-state length)
INNER_REDUCTION = 1e-3  # a cycle ends when its residual estimate fell by this factor
MAX_ITERATIONS = 400  # GMRES steps in all before giving up (cot_chain needs about 45)


class NotConverged(RuntimeError):
    """GMRES did not reach the backward error ``ACCEPT`` within ``MAX_ITERATIONS`` steps."""


class ClusterDeflatedSolver:
    r"""Repeated solves :math:`A x = b` by GMRES with the cluster-deflated two-level preconditioner.

    Parameters
    ----------
    matrix : scipy.sparse array, shape (n, n)
        :math:`A = I - P_{UU}` on the free states :math:`U`.
    groups : ndarray of int64, shape (n,)
        The cluster of each free state, relabelled ``0 .. G-1`` (every label used).

    Attributes
    ----------
    iterations : int
        GMRES steps of the last :meth:`solve`.
    backward_error : float
        :math:`\omega(x)` of the last :meth:`solve`.
    """

    def __init__(self, matrix, groups):
        self._A = sp.csr_array(matrix)
        groups = np.asarray(groups, dtype=np.int64)
        n = self._A.shape[0]
        self._Z = sp.csr_array((np.ones(n), (np.arange(n), groups)), shape=(n, int(groups.max()) + 1))
        self._ZT = sp.csr_array(self._Z.T)
        self._coarse = spla.splu(sp.csc_array(self._ZT @ (self._A @ self._Z)))
        self._inverse_diagonal = 1.0 / self._A.diagonal()
        self._norm = float(abs(self._A).sum(axis=1).max())
        self.iterations = 0
        self.backward_error = np.nan

    def _coarse_correction(self, v):
        """:math:`Z A_c^{-1} Z^T v`."""
        return self._Z @ self._coarse.solve(self._ZT @ v)

    def precondition(self, v):
        """The two-level cycle :math:`B v = Q v + D^{-1}(v - A Q v)`."""
        x = self._coarse_correction(v)
        x += self._inverse_diagonal * (v - self._A @ x)
        return x

    def _omega(self, x, r, b_norm):
        return float(np.abs(r).max() / (self._norm * np.abs(x).max() + b_norm))

    def solve(self, b):
        """:math:`x` with :math:`A x = b` to backward error ``TOLERANCE`` (``ACCEPT`` where roundoff stalls it).

        Raises
        ------
        NotConverged
            If neither is reached within ``MAX_ITERATIONS`` steps, or the error stalls above ``ACCEPT``.
        """
        A = self._A
        b = np.asarray(b, dtype=np.float64)
        x = np.zeros(b.size)
        b_norm = float(np.abs(b).max()) if b.size else 0.0
        self.iterations, self.backward_error = 0, 0.0
        if b_norm == 0.0:
            return x
        V = np.empty((RESTART + 1, b.size))
        r = b.copy()
        best_x, best = x, np.inf
        while True:
            omega = self._omega(x, r, b_norm)
            if omega < best:
                best_x, best, previous = x.copy(), omega, best
            else:
                previous = best
            if best <= TOLERANCE:
                break
            if best > 0.5 * previous or self.iterations >= MAX_ITERATIONS:  # stalled, or out of steps
                if best <= ACCEPT:
                    break
                self.backward_error = best
                raise NotConverged(f"GMRES reached a backward error of {best:.3g} in {self.iterations} "
                                   f"steps (wanted {ACCEPT:g})")
            beta = float(np.linalg.norm(r))
            V[0] = r / beta
            H = np.zeros((RESTART + 1, RESTART))
            g = np.zeros(RESTART + 1)
            g[0] = beta
            cos, sin = np.zeros(RESTART), np.zeros(RESTART)
            for j in range(RESTART):
                w = A @ self.precondition(V[j])
                h = V[:j + 1] @ w
                w -= h @ V[:j + 1]
                again = V[:j + 1] @ w
                w -= again @ V[:j + 1]
                H[:j + 1, j] = h + again
                H[j + 1, j] = breakdown = np.linalg.norm(w)
                if breakdown > 0:
                    V[j + 1] = w / breakdown
                for i in range(j):
                    H[i, j], H[i + 1, j] = (cos[i] * H[i, j] + sin[i] * H[i + 1, j],
                                            -sin[i] * H[i, j] + cos[i] * H[i + 1, j])
                radius = np.hypot(H[j, j], H[j + 1, j])
                cos[j], sin[j] = H[j, j] / radius, H[j + 1, j] / radius
                H[j, j], H[j + 1, j] = radius, 0.0
                g[j + 1], g[j] = -sin[j] * g[j], cos[j] * g[j]
                self.iterations += 1
                if abs(g[j + 1]) <= INNER_REDUCTION * beta or breakdown == 0 or self.iterations >= MAX_ITERATIONS:
                    break
            k = j + 1
            y = la.solve_triangular(H[:k, :k], g[:k])
            x = best_x + self.precondition(y @ V[:k])
            r = b - A @ x
        self.backward_error = best
        return best_x
