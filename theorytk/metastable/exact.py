r"""Exact analysis of a chain by sparse linear algebra: hitting times, committors, spectra.

Everything here is a linear solve or a small eigenproblem. The hitting-time systems of a
large chain are solved by GMRES with the chain's clusters deflated
(:mod:`theorytk.metastable._block_solve`: linear in the number of transitions, where a
sparse LU fills in about :math:`M^2` entries per expander-like cluster of :math:`M`
states), small ones and the rest by SciPy's sparse LU (SuperLU, COLAMD ordering). With
:math:`U` the states outside the target :math:`T`, the expected hitting time
:math:`t(x) = E_x[\tau_T]` solves

.. math::

    (I - P_{UU})\, t_U = \mathbf 1, \qquad t_T = 0,

and the same operator :math:`I - P_{UU}` gives the second moment
(:math:`(I-P_{UU}) m_U = 2 t_U - 1`) and the probabilities of entering each part of
:math:`T` first (:math:`(I-P_{UU}) h_U = P_{UB}\mathbf 1`): :class:`HittingSolver`
prepares it once and answers all of them. States from which :math:`T` is not reached
almost surely get :math:`+\infty`.

The identities checked by ``validations.metastable_cot`` (notes/metastable.md, Sec. 2):

* renewal (:func:`renewal_hitting_time`), exact for one forward exit per cluster;
* quasi-stationary exit (:func:`quasi_stationary`): started from the left Perron vector
  :math:`\nu` of :math:`P_{CC}` with eigenvalue :math:`\lambda`, the exit time is exactly
  Geometric(:math:`1-\lambda`);
* potential theory (:func:`potential_theory`): :math:`E_{\nu^*_{AB}}[\tau_B] =
  \langle \pi, h^*_{AB}\rangle / \mathrm{cap}(A, B)` with the equilibrium measure and
  potential of the time-reversed chain :math:`P^*(x,y) = \pi(y)P(y,x)/\pi(x)`; for
  reversible chains this is the formula of Bovier, Eckhoff, Gayrard, Klein (CMP 228, 2002);
* the spectral picture (:func:`metastable_eigenvalues`): K eigenvalues within
  :math:`O(\varepsilon)` of 1.
"""
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from theorytk import _validate
from theorytk.metastable._block_solve import ClusterDeflatedSolver, NotConverged
from theorytk.metastable.chains import FORWARD, WRAP, CotChain

__all__ = [
    "HittingSolver",
    "HittingTimes",
    "PotentialTheory",
    "QuasiStationary",
    "Spectrum",
    "committor",
    "hitting_times",
    "leading_term",
    "metastable_eigenvalues",
    "potential_theory",
    "quasi_stationary",
    "renewal_hitting_time",
    "stationary_distribution",
    "time_reversal",
]

_DENSE_LIMIT = 2000  # eigenproblems up to this size are solved densely
# HittingSolver uses cluster-deflated GMRES from this many free states and clusters of this (size-weighted
# mean) size; below either, SuperLU is as fast or faster (measured in benchmarks/MEASUREMENTS.md, issue 17 part 8)
_ITERATIVE_MIN_STATES = 8192
_ITERATIVE_MIN_CLUSTER = 64


def check_chain(chain):
    if not isinstance(chain, CotChain):
        raise TypeError(f"chain must be a CotChain (see cot_chain, chain_from_csr), got {type(chain).__name__}")
    return chain


def state_set(chain, name, states):
    """Validate a non-empty set of states (an int, a 1-d array of ints or a boolean mask); return a mask."""
    values = np.atleast_1d(_validate.nested(name, states, "a state index, a 1-d array of state indices or a "
                                                          "boolean mask"))
    if values.ndim != 1:
        raise ValueError(f"{name} must be a state index, a 1-d array of state indices or a boolean mask, "
                         f"got an array of shape {values.shape}")
    if values.dtype == bool and np.ndim(states) == 1:
        if values.shape != (chain.n_states,):
            raise ValueError(f"{name} as a boolean mask must have one entry per state ({chain.n_states}), "
                             f"got {values.size}")
        if not values.any():
            raise ValueError(f"{name} must name at least one state, got an all-False mask")
        return values.copy()
    if values.size == 0:
        raise ValueError(f"{name} must name at least one state")
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{name} must be a state index or an array of state indices, got {_validate._describe(states)}")
    if values.min() < 0 or values.max() >= chain.n_states:
        raise ValueError(f"{name} must hold states in [0, {chain.n_states - 1}], "
                         f"got range [{values.min()}, {values.max()}]")
    mask = np.zeros(chain.n_states, dtype=bool)
    mask[values] = True
    return mask


def reaches_almost_surely(P, target):
    """Mask of the states from which the target is hit with probability one.

    A state fails when some path avoiding the target leads to a state that cannot reach it.
    """
    n = P.shape[0]

    def reverse_reach(seeds, blocked):
        # reverse graph with the out-edges of blocked states removed, plus a super-source n
        coo = P.tocoo()
        keep = ~blocked[coo.row] & (coo.data > 0)
        rows = np.concatenate([coo.col[keep], np.full(np.count_nonzero(seeds), n)])
        cols = np.concatenate([coo.row[keep], np.flatnonzero(seeds)])
        graph = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1))
        order = csgraph.breadth_first_order(graph, n, directed=True, return_predecessors=False)
        out = np.zeros(n + 1, dtype=bool)
        out[order] = True
        return out[:n]

    can_reach = reverse_reach(target, target)
    stuck = ~can_reach
    if not stuck.any():
        return np.ones(n, dtype=bool)
    return ~reverse_reach(stuck, target) | target


class HittingSolver:
    r"""Solves with :math:`I - P_{UU}` for a target set, prepared once and reused for every right-hand side.

    Which solver (the decision is made here, once; either is exact to roundoff):

    * at least 8192 free states in clusters of size-weighted mean size
      :math:`\sum_k |C_k \cap U|^2 / |U| \ge 64` (``chain.labels`` restricted to the free
      states :math:`U`; every :class:`CotChain` has labels): GMRES preconditioned by the
      clusters, deflated by their aggregated coarse matrix, to a normwise backward error of
      a few units of roundoff (:class:`theorytk.metastable._block_solve.ClusterDeflatedSolver`);
      its cost is linear in the transitions when the clusters mix fast inside. If GMRES
      stalls (a restart cycle that does not halve the backward error, above
      :math:`10^{-13}`) or needs more than 400 steps (labels that are not metastable
      clusters, clusters that mix slowly, or hitting times near :math:`1/\epsilon_{\rm mach}`),
      the solver switches to the sparse LU for that and every later solve;
    * otherwise: one sparse LU (SuperLU, COLAMD ordering) of :math:`I - P_{UU}`, whose
      fill-in is then small.

    Parameters
    ----------
    chain : CotChain
    target : int or array_like of int
        The target set :math:`T`.
    method : {"auto", "deflated gmres", "sparse lu"}, default "auto"
        "auto" decides as above; the other two force a solver (a forced GMRES still falls back
        to the LU when it stalls).

    Attributes
    ----------
    target : ndarray of bool, shape (n,)
    finite : ndarray of bool, shape (n,)
        States from which :math:`T` is reached almost surely (the target included).
    method : str
        ``"deflated gmres"`` or ``"sparse lu"``: the solver in use now.
    """

    def __init__(self, chain, target, method="auto"):
        self.chain = check_chain(chain)
        self.target = state_set(chain, "target", target)
        _validate.choice("method", method, {"auto", "deflated gmres", "sparse lu"})
        self.finite = reaches_almost_surely(chain.P, self.target)
        self._free = self.finite & ~self.target
        free = np.flatnonzero(self._free)
        self._matrix = sp.eye_array(free.size, format="csr") - chain.P[free][:, free].tocsr()
        self._free_index = free
        self._lu = self._iterative = None
        groups = np.unique(chain.labels[free], return_inverse=True)[1]
        sizes = np.bincount(groups)
        clustered = free.size >= _ITERATIVE_MIN_STATES and sizes @ sizes >= _ITERATIVE_MIN_CLUSTER * free.size
        if free.size and (method == "deflated gmres" or (method == "auto" and clustered)):
            self._iterative = ClusterDeflatedSolver(self._matrix, groups)
        elif free.size:
            self._lu = spla.splu(self._matrix.tocsc())

    @property
    def method(self):
        """``"deflated gmres"`` or ``"sparse lu"``: the solver in use now."""
        return "deflated gmres" if self._iterative is not None else "sparse lu"

    def _solve(self, rhs):
        out = np.zeros(self.chain.n_states)
        out[~self.finite] = np.inf
        rhs = np.ascontiguousarray(rhs, dtype=np.float64)
        if self._iterative is not None:
            try:
                out[self._free_index] = self._iterative.solve(rhs)
                return out
            except NotConverged:
                self._iterative = None
                self._lu = spla.splu(self._matrix.tocsc())
        if self._lu is not None:
            out[self._free_index] = self._lu.solve(rhs)
        return out

    def mean(self):
        """:math:`E_x[\\tau_T]` for every state, shape (n,) (0 on the target, inf where not a.s. hit)."""
        return self._solve(np.ones(self._free_index.size))

    def second_moment(self, mean=None):
        """:math:`E_x[\\tau_T^2]`, from :math:`(I - P_{UU}) m = 2t - 1` (``mean``: the result of :meth:`mean`, if at hand)."""
        t = self.mean() if mean is None else _validate.array("mean", mean, shape=(self.chain.n_states,), finite=False)
        return self._solve(2.0 * t[self._free_index] - 1.0)

    def absorption(self, part):
        """:math:`P_x(X_{\\tau_T} \\in B)` for a part ``B`` of the target, shape (n,)."""
        part = state_set(self.chain, "part", part)
        if np.any(part & ~self.target):
            raise ValueError("part must be a subset of the target")
        P = self.chain.P
        rhs = np.asarray(P[self._free_index][:, np.flatnonzero(part)].sum(axis=1)).ravel()
        out = self._solve(rhs)
        out[part] = 1.0
        out[self.target & ~part] = 0.0
        out[~self.finite] = np.nan
        return out


@dataclass(frozen=True, eq=False)
class HittingTimes:
    """Expected hitting times of a target set (:func:`hitting_times`).

    Attributes
    ----------
    times : ndarray, shape (n,)
        :math:`E_x[\\tau_T]`; 0 on the target, ``inf`` where the target is not hit a.s.
    second_moment : ndarray, shape (n,) or None
        :math:`E_x[\\tau_T^2]` when requested.
    target : ndarray of bool, shape (n,)
    """

    times: np.ndarray
    second_moment: np.ndarray | None
    target: np.ndarray

    def at(self, start):
        """:math:`E[\\tau_T]` from a state (int) or a start distribution (array of length n)."""
        if np.ndim(start) == 0:
            return float(self.times[_validate.integer("start", start, minimum=0, maximum=self.times.size - 1)])
        start = _validate.array("start", start, shape=(self.times.size,))
        if np.any(start < 0) or abs(start.sum() - 1) > 1e-9:
            raise ValueError("start must be a state or a probability vector over the states")
        return float(start @ np.where(start > 0, self.times, 0.0))

    def std(self, start):
        """Standard deviation of :math:`\\tau_T` from a state (needs ``second_moment``)."""
        if self.second_moment is None:
            raise ValueError("call hitting_times(..., moments=2) to get standard deviations")
        start = _validate.integer("start", start, minimum=0, maximum=self.times.size - 1)
        return float(np.sqrt(max(self.second_moment[start] - self.times[start] ** 2, 0.0)))


def hitting_times(chain, target=None, *, moments=1):
    r"""Expected hitting times of ``target`` from every state (:class:`HittingSolver`).

    Parameters
    ----------
    chain : CotChain
    target : int or array_like of int, optional
        Default ``chain.goal``.
    moments : {1, 2}
        2 also returns :math:`E_x[\tau_T^2]` (same prepared solver).

    Returns
    -------
    HittingTimes
    """
    chain = check_chain(chain)
    moments = _validate.choice("moments", moments, (1, 2))
    solver = HittingSolver(chain, chain.goal if target is None else target)
    mean = solver.mean()
    return HittingTimes(mean, solver.second_moment(mean) if moments == 2 else None, solver.target)


def committor(chain, A, B, *, backward=False):
    r"""Forward committor :math:`q^+(x) = P_x(\tau_B < \tau_A)` (or the backward one).

    The backward committor :math:`q^-(x)` (probability that the chain, run backward from
    ``x``, last came from ``A`` rather than ``B``) is :math:`1 - q^+` of the
    time-reversed chain for the sets swapped, i.e. :math:`P^*_x(\tau_A < \tau_B)`.

    Parameters
    ----------
    chain : CotChain
    A, B : int, array_like of int or boolean mask
        Disjoint sets of states.
    backward : bool
        True for :math:`q^-` (a bool: ``"no"`` or ``0`` are refused, not read by truthiness).

    Returns
    -------
    ndarray, shape (n,)
        1 on ``B`` and 0 on ``A`` (forward); 1 on ``A`` and 0 on ``B`` (backward).
    """
    chain = check_chain(chain)
    if not isinstance(backward, (bool, np.bool_)):
        raise TypeError(f"backward must be a bool (True or False), got {backward!r} of type {type(backward).__name__}")
    a, b = state_set(chain, "A", A), state_set(chain, "B", B)
    if np.any(a & b):
        raise ValueError("A and B must be disjoint")
    if backward:
        chain = chain.with_matrix(time_reversal(chain))
        a, b = b, a
    return HittingSolver(chain, a | b).absorption(np.flatnonzero(b))


def stationary_distribution(chain):
    r"""The stationary law :math:`\pi P = \pi`, :math:`\sum \pi = 1`, of an irreducible chain.

    Solved as :math:`(I - P)^T \pi = 0` with one equation replaced by the normalisation.

    Raises
    ------
    ValueError
        If the chain is not irreducible (no unique stationary law).
    """
    chain = check_chain(chain)
    P = chain.P
    n = P.shape[0]
    n_comp, _ = csgraph.connected_components(P, directed=True, connection="strong")
    if n_comp != 1:
        raise ValueError(f"the chain must be irreducible for a unique stationary law; it has {n_comp} "
                         "strongly connected components (cot_chain(..., wrap=True) is irreducible)")
    A = (sp.eye_array(n, format="csr") - P).T.tocsr()
    A = sp.vstack([sp.csr_array(np.ones((1, n))), A[1:]]).tocsc()
    rhs = np.zeros(n)
    rhs[0] = 1.0
    pi = spla.splu(A).solve(rhs)
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def time_reversal(chain, pi=None):
    r"""The time-reversed kernel :math:`P^*(x, y) = \pi(y) P(y, x) / \pi(x)` (CSR).

    ``pi`` (default: :func:`stationary_distribution`) must be positive on every state; its
    scale does not matter.
    """
    chain = check_chain(chain)
    if pi is None:
        pi = stationary_distribution(chain)
    else:
        pi = _validate.array("pi", pi, shape=(chain.n_states,))
        if not np.all(pi > 0):
            raise ValueError(f"pi must be positive on every state, got {int(np.count_nonzero(pi <= 0))} entries <= 0")
    out = (sp.diags_array(1.0 / pi) @ chain.P.T @ sp.diags_array(pi)).tocsr()
    out.sort_indices()
    return out


@dataclass(frozen=True)
class Spectrum:
    """The eigenvalues of ``P`` closest to 1 (:func:`metastable_eigenvalues`).

    Attributes
    ----------
    eigenvalues : ndarray of complex, shape (k,)
        The ``k`` eigenvalues closest to 1, closest first.
    next_eigenvalue : complex
        The next one: the start of the fast (intra-cluster) spectrum.
    """

    eigenvalues: np.ndarray
    next_eigenvalue: complex

    @property
    def gap_ratio(self):
        """:math:`\\max_i |1-\\lambda_i| / |1-\\lambda_{k+1}|`: small when the ladder is metastable."""
        return float(np.abs(1 - self.eigenvalues).max() / abs(1 - self.next_eigenvalue))


def metastable_eigenvalues(chain, k=None):
    """The ``k`` eigenvalues of ``P`` closest to 1 and the next one.

    Dense for ``n <= 2000``, else ARPACK in shift-invert mode around :math:`1 + 10^{-3}`.

    Parameters
    ----------
    chain : CotChain
    k : int, optional
        Default: the number of clusters.
    """
    chain = check_chain(chain)
    n = chain.n_states
    k = chain.n_clusters if k is None else _validate.integer("k", k, minimum=1, maximum=n - 2)
    if n <= _DENSE_LIMIT:
        values = la.eigvals(chain.P.toarray())
    else:
        values = spla.eigs(chain.P.tocsc(), k=k + 1, sigma=1.0 + 1e-3, which="LM", return_eigenvectors=False)
    values = values[np.argsort(np.abs(1 - values), kind="stable")]
    return Spectrum(values[:k], complex(values[k]))


@dataclass(frozen=True)
class QuasiStationary:
    r"""The quasi-stationary law of a cluster (:func:`quasi_stationary`).

    Attributes
    ----------
    states : ndarray of int64
        The cluster :math:`C`.
    nu : ndarray, shape (|C|,)
        Left Perron vector of :math:`P_{CC}`, a probability vector.
    eigenvalue : float
        Its eigenvalue :math:`\lambda < 1`.
    mean_exit : float
        :math:`1/(1-\lambda)`, the mean of the Geometric exit time from :math:`\nu`.
    mean_exit_solved : float
        :math:`E_\nu[\tau_{C^c}]` by the linear solve: equals ``mean_exit`` exactly.
    """

    states: np.ndarray
    nu: np.ndarray
    eigenvalue: float
    mean_exit: float
    mean_exit_solved: float


def quasi_stationary(chain, cluster):
    """Quasi-stationary distribution of a cluster and its exact exit time.

    Parameters
    ----------
    chain : CotChain
    cluster : int
        A cluster label in ``[0, chain.n_clusters - 1]``.

    Returns
    -------
    QuasiStationary
    """
    chain = check_chain(chain)
    cluster = _validate.integer("cluster", cluster)
    if not 0 <= cluster < chain.n_clusters:
        raise ValueError(f"cluster must be a cluster label in [0, {chain.n_clusters - 1}] (the chain has "
                         f"{chain.n_clusters} clusters), got {cluster}")
    states = chain.cluster(cluster)
    block = chain.P[states][:, states]
    if states.size <= _DENSE_LIMIT:
        values, vectors = la.eig(block.toarray().T)
    else:
        values, vectors = spla.eigs(block.T.tocsc(), k=1, which="LR")
    top = int(np.argmax(values.real))
    lam = float(values[top].real)
    nu = np.abs(vectors[:, top].real)
    nu /= nu.sum()
    outside = np.flatnonzero(chain.labels != chain.labels[states[0]])
    times = HittingSolver(chain, outside).mean()[states]
    return QuasiStationary(states, nu, lam, 1.0 / (1.0 - lam), float(nu @ times))


@dataclass(frozen=True)
class PotentialTheory:
    r"""Capacity and mean transition time between two sets (:func:`potential_theory`).

    Attributes
    ----------
    capacity : float
        :math:`\mathrm{cap}(A,B) = \sum_{x\in A}\pi(x) P_x(\tau_B < \tau_A^+)`.
    capacity_reversed : float
        The same for :math:`P^*`; equal to ``capacity``.
    mean_forward, formula_forward : float
        :math:`E_{\nu_{AB}}[\tau_B]` and :math:`\langle\pi, h_{AB}\rangle/\mathrm{cap}` with the
        forward equilibrium measure and potential (equal for reversible chains only).
    mean_adjoint, formula_adjoint : float
        :math:`E_{\nu^*_{AB}}[\tau_B]` and :math:`\langle\pi, h^*_{AB}\rangle/\mathrm{cap}` with
        the time-reversed objects: equal for every irreducible chain.
    """

    capacity: float
    capacity_reversed: float
    mean_forward: float
    formula_forward: float
    mean_adjoint: float
    formula_adjoint: float


def _equilibrium(P, a, b, chain):
    """Equilibrium potential h = P(tau_A < tau_B) and escape probabilities e_A(x) on A."""
    h = HittingSolver(chain.with_matrix(P), a | b).absorption(np.flatnonzero(a))
    escape = 1.0 - P[np.flatnonzero(a)] @ h
    return h, escape


def potential_theory(chain, A, B):
    r"""Check the potential-theoretic formula for :math:`E[\tau_B]` from the equilibrium measure on ``A``.

    With :math:`h_{AB}(x) = P_x(\tau_A < \tau_B)`, :math:`e_A(x) = P_x(\tau_B < \tau_A^+)`,
    :math:`\mathrm{cap} = \sum_A \pi e_A` and :math:`\nu_{AB} = \pi e_A/\mathrm{cap}` on
    :math:`A`. The adjoint identity (derived in ``proofs.metastable_cot``): by
    :math:`\langle \pi, h^* (P - I) t\rangle = \langle \pi, t (P^* - I) h^*\rangle` with
    :math:`t = E_\cdot[\tau_B]`, :math:`\langle\pi, h^*\rangle = \mathrm{cap}\, E_{\nu^*}[\tau_B]`.
    """
    chain = check_chain(chain)
    a, b = state_set(chain, "A", A), state_set(chain, "B", B)
    if np.any(a & b):
        raise ValueError("A and B must be disjoint")
    pi = stationary_distribution(chain)
    times = HittingSolver(chain, b).mean()
    out = {}
    for key, P in (("forward", chain.P), ("adjoint", time_reversal(chain, pi))):
        h, escape = _equilibrium(P, a, b, chain)
        cap = float(pi[a] @ escape)
        nu = pi[a] * escape / cap
        out[key] = (cap, float(nu @ times[a]), float(pi @ h) / cap)
    return PotentialTheory(out["forward"][0], out["adjoint"][0], out["forward"][1], out["forward"][2],
                           out["adjoint"][1], out["adjoint"][2])


def path_exits(chain):
    """For a chain whose sparse edges are all forward (or wrap): exit edges of each cluster before the goal."""
    kinds = chain.edge_kinds
    if chain.eps is None or np.any((kinds != FORWARD) & (kinds != WRAP)):
        raise ValueError("this formula needs a generated chain whose sparse edges are all forward "
                         "(cot_chain with back=0, distract=0)")
    forward = chain.sparse_edges[kinds == FORWARD]
    return [forward[chain.labels[forward[:, 0]] == k] for k in range(chain.goal_cluster)]


def leading_term(chain):
    r"""The leading term :math:`T_0 = \sum_{k<K} |C_k| / \sum_{e \in \mathrm{exits}(C_k)} P(e)`.

    For :func:`cot_chain` this is :math:`\sum_k M_k/(\varepsilon \sum_e q_e)`
    (``proofs.metastable_cot.LEADING_TERM``): each cluster before the goal is left after
    about :math:`1/(\pi_k(\text{exits})\, \varepsilon q)` steps, with the uniform
    :math:`\pi_k = 1/M_k`. It also holds for boosted chains (probabilities read from ``P``).
    """
    chain = check_chain(chain)
    P = chain.P
    total = 0.0
    for k, exits in enumerate(path_exits(chain)):
        total += chain.cluster_sizes[k] / float(np.asarray(P[exits[:, 0], exits[:, 1]]).sum())
    return total


def renewal_hitting_time(chain):
    r"""Exact :math:`E_{x_{in}}[\tau_{C_K}]` by the renewal identity (one exit per cluster).

    .. math::

        E_{x_{in}}[\tau_{C_K}] = \sum_{k<K} \Big[ h^{P^0}_k(\text{entry}_k \to \text{exit}_k)
        + 1 + \frac{1 - s_k}{s_k\, \pi^0_k(\text{exit}_k)} \Big],

    with :math:`s_k = P(\text{exit}_k, \text{entry}_{k+1})` the sparse probability,
    :math:`P^0_k` the cluster kernel (exit row renormalised) and :math:`\pi^0_k` its
    stationary law (:math:`1/\pi^0_k = M` for :func:`cot_chain`): each failed attempt at
    the exit is an excursion of mean length :math:`1/\pi^0_k(\text{exit})` (Kac), and
    there are Geometric-many, mean :math:`(1-s)/s`. ``proofs.metastable_cot.RENEWAL``.
    """
    chain = check_chain(chain)
    P = chain.P
    entry = chain.start
    total = 0.0
    for k, exits in enumerate(path_exits(chain)):
        if len(exits) != 1:
            raise ValueError(f"the renewal identity needs exactly one exit per cluster, cluster {k} has {len(exits)}")
        (x, y), states = exits[0], chain.cluster(k)
        s = float(P[x, y])
        block = P[states][:, states].toarray()
        local_exit = int(np.searchsorted(states, x))
        block[local_exit] /= 1.0 - s
        others = np.flatnonzero(states != x)
        h = np.zeros(states.size)
        h[others] = la.solve(np.eye(others.size) - block[np.ix_(others, others)], np.ones(others.size))
        values, vectors = la.eig(block.T)
        pi0 = np.abs(vectors[:, np.argmin(np.abs(values - 1))].real)
        pi0 /= pi0.sum()
        total += h[int(np.searchsorted(states, entry))] + 1.0 + (1.0 - s) / (s * pi0[local_exit])
        entry = int(y)
    return total
