r"""Metastable chains for chain-of-thought: K dense clusters joined by sparse edges.

The model of Kim, Wu, Lee, Suzuki (ICML 2025, arXiv 2502.01694, Sec. 2): reasoning steps
are transitions of a Markov chain :math:`X^\varepsilon` whose states fall into clusters
:math:`C_1, \dots, C_K` of at most :math:`M` states. Inside a cluster the chain mixes fast
and has a uniform stationary law (assumption A1); clusters are joined by a bounded number
of sparse edges of probability :math:`\Theta(\varepsilon)` (A2); the goal cluster is only
reached through :math:`K-1` of them (A3).

:func:`cot_chain` generates such a chain (notes/metastable.md, Sec. 5): the kernel of a
cluster of size :math:`M` is

.. math::

    P^0 = \ell I + \frac{1-\ell}{d}\Big(S + \sum_{j=1}^{d-1} \Pi_j\Big),

with laziness :math:`\ell`, the cyclic shift :math:`S` (which makes the cluster
irreducible) and :math:`d-1` random permutation matrices :math:`\Pi_j`: doubly stochastic,
so uniform in the cluster, and aperiodic for :math:`\ell > 0`. A sparse edge
:math:`x \to y` of weight :math:`q` has probability :math:`\varepsilon q`; the rest of the
row of :math:`x` is scaled by :math:`1 - \varepsilon \sum q` ("proportional
renormalisation"). :func:`chain_from_csr` wraps any row-stochastic CSR matrix with labels.
"""
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from theorytk import _validate
from theorytk.random import generator

__all__ = ["EDGE_KINDS", "CotChain", "chain_from_csr", "cot_chain"]

#: Names of the sparse-edge kinds, indexed by ``CotChain.edge_kinds``.
EDGE_KINDS = ("forward", "backward", "distractor", "trap_exit", "wrap", "given")
FORWARD, BACKWARD, DISTRACTOR, TRAP_EXIT, WRAP, GIVEN = range(len(EDGE_KINDS))


@dataclass(frozen=True, eq=False)
class CotChain:
    """A chain with cluster labels, its sparse edges, a start state and a goal set.

    Attributes
    ----------
    P : scipy.sparse.csr_array, shape (n, n)
        Row-stochastic transition matrix (non-negative, rows sum to one, sorted indices,
        no explicit zeros).
    labels : ndarray of int64, shape (n,)
        Cluster of each state, ``0 .. n_clusters-1``, every label used.
    sparse_edges : ndarray of int64, shape (m, 2)
        The sparse (inter-cluster) edges ``(x, y)``.
    edge_kinds : ndarray of int64, shape (m,)
        Index into :data:`EDGE_KINDS` of each sparse edge.
    start : int
        The input state :math:`X_{in}`.
    goal : ndarray of int64
        The goal states (for :func:`cot_chain`, the whole last cluster :math:`C_K`).
    eps : float or None
        :math:`\\varepsilon` of a generated chain; ``None`` for a user chain.
    goal_cluster : int
        Label of the goal cluster.
    """

    P: sp.csr_array
    labels: np.ndarray
    sparse_edges: np.ndarray
    edge_kinds: np.ndarray
    start: int
    goal: np.ndarray
    eps: float | None
    goal_cluster: int

    @property
    def n_states(self):
        return self.P.shape[0]

    @property
    def n_clusters(self):
        return int(self.labels.max()) + 1

    @cached_property
    def cluster_sizes(self):
        """Number of states in each cluster, shape (K,)."""
        return np.bincount(self.labels, minlength=self.n_clusters)

    def cluster(self, k):
        """The states of cluster ``k``, ascending."""
        k = _validate.integer("k", k, minimum=0, maximum=self.n_clusters - 1)
        return np.flatnonzero(self.labels == k)

    @cached_property
    def edge_probabilities(self):
        """:math:`P(x, y)` of every sparse edge, shape (m,)."""
        if not len(self.sparse_edges):
            return np.zeros(0)
        return np.asarray(self.P[self.sparse_edges[:, 0], self.sparse_edges[:, 1]]).ravel()

    @cached_property
    def table(self):
        """``(indptr, indices, cum)``: the CSR cumulative table the walker kernels read.

        ``cum`` is the running sum of each row, its last entry set to exactly 1.0.
        """
        indptr = self.P.indptr.astype(np.int64)
        out = (indptr, self.P.indices.astype(np.int64), cumulative_rows(indptr, self.P.data))
        for array in out:
            array.flags.writeable = False
        return out

    def with_matrix(self, P):
        """The same labels, edges, start and goal with another transition matrix ``P`` (CSR, same support)."""
        return replace(self, P=P)

    def edge_mask(self, edges=None):
        """Boolean mask over the CSR entries of ``P`` that are the given edges (default: all sparse edges)."""
        edges = self.sparse_edges if edges is None else as_edges(self, "edges", edges)
        mask = np.zeros(self.P.nnz, dtype=bool)
        mask[entry_index(self.P, edges)] = True
        return mask


def cumulative_rows(indptr, data):
    """Running sums of each CSR row of ``data``, the last entry of every row set to exactly 1.0."""
    cum = np.cumsum(data)
    row_start = np.repeat(indptr[:-1], np.diff(indptr))
    cum -= np.concatenate(([0.0], cum))[row_start]
    cum[indptr[1:] - 1] = 1.0
    return cum


def as_edges(chain, name, edges):
    """Validate an edge list ``(m, 2)`` of transitions of ``chain`` with positive probability."""
    try:
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of (x, y) state pairs, got {edges!r}") from exc
    if edges.size and (edges.min() < 0 or edges.max() >= chain.n_states):
        raise ValueError(f"{name} must hold states in [0, {chain.n_states - 1}], "
                         f"got range [{edges.min()}, {edges.max()}]")
    if edges.size:
        probs = np.asarray(chain.P[edges[:, 0], edges[:, 1]]).ravel()
        if np.any(probs <= 0):
            x, y = edges[np.argmin(probs)]
            raise ValueError(f"{name} must be transitions of the chain, but P[{x}, {y}] = 0")
    return edges


def entry_index(P, edges):
    """Index into ``P.data`` of each edge ``(x, y)`` (edges must be stored entries)."""
    out = np.empty(len(edges), dtype=np.int64)
    for i, (x, y) in enumerate(edges):
        row = P.indices[P.indptr[x]:P.indptr[x + 1]]
        out[i] = P.indptr[x] + np.searchsorted(row, y)
    return out


def _cluster_kernels(rng, n_clusters, size, degree, lazy):
    """CSR matrix of the lazy shift-plus-permutations kernels of ``n_clusters`` clusters of ``size`` states."""
    local = np.arange(size)
    base = (np.arange(n_clusters) * size)[:, None]
    cols = [base + local, base + (local + 1) % size]
    vals = [lazy, (1 - lazy) / degree]
    for _ in range(degree - 1):
        cols.append(base + rng.random((n_clusters, size)).argsort(axis=1))
        vals.append((1 - lazy) / degree)
    n = n_clusters * size
    rows = np.tile(np.arange(n), len(cols))
    data = np.repeat(vals, n)
    P0 = sp.coo_array((data, (rows, np.concatenate([c.ravel() for c in cols]))), shape=(n, n)).tocsr()
    P0.sum_duplicates()
    return P0


def cot_chain(clusters, cluster_size, eps, *, degree=3, lazy=0.5, exits=1, q=1.0, back=0.0, distract=0.0,
              wrap=True, seed=0):
    r"""Generate a metastable chain-of-thought chain.

    Clusters ``0 .. K-1`` of ``cluster_size`` states each (kernel of the module docstring).
    Cluster ``k < K-1`` has ``exits`` exit states, each with a forward sparse edge of
    probability :math:`\varepsilon q` to a random state of cluster ``k+1``; the goal is
    cluster ``K-1``; the start is state 0. Optional edges, each of probability
    :math:`\varepsilon\times` its weight:

    * ``wrap`` (weight ``q``): the goal cluster's exits lead back to a random state of
      cluster 0, so the chain is irreducible (it does not change hitting times of the goal);
    * ``back``: one random state of each cluster ``k >= 1`` to a random state of ``k-1``;
    * ``distract``: one random state of each cluster ``k < K-1`` into an extra *trap*
      cluster (label ``K``, same size), whose one exit (weight ``q``) leads to cluster 0.

    Parameters
    ----------
    clusters : int
        K >= 2, the number of clusters on the path to the goal.
    cluster_size : int
        M >= 2 states per cluster.
    eps : float
        :math:`\varepsilon` in (0, 1).
    degree : int, default 3
        d >= 1: the shift and ``d-1`` random permutations.
    lazy : float, default 0.5
        Holding probability :math:`\ell` in [0, 1).
    exits : int, default 1
        Exit states per cluster, ``1 <= exits <= cluster_size``.
    q, back, distract : float
        Weights of the forward (and wrap, trap exit), backward and distractor edges.
    wrap : bool, default True
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    CotChain

    Raises
    ------
    ValueError
        Bad sizes or weights, or a row whose sparse mass :math:`\varepsilon\sum q` reaches 1.
    """
    K = _validate.integer("clusters", clusters, minimum=2)
    M = _validate.integer("cluster_size", cluster_size, minimum=2)
    eps = _validate.real("eps", eps, minimum=0.0, strict_minimum=True, maximum=1.0)
    if eps >= 1.0:
        raise ValueError(f"eps must be < 1, got {eps}")
    degree = _validate.integer("degree", degree, minimum=1)
    lazy = _validate.real("lazy", lazy, minimum=0.0)
    if lazy >= 1.0:
        raise ValueError(f"lazy must be < 1 (a holding probability), got {lazy}")
    exits = _validate.integer("exits", exits, minimum=1, maximum=M)
    q = _validate.positive("q", q)
    back = _validate.real("back", back, minimum=0.0)
    distract = _validate.real("distract", distract, minimum=0.0)
    if not isinstance(wrap, bool):
        raise TypeError(f"wrap must be a bool, got {wrap!r}")
    rng = generator(seed)

    n_clusters = K + (distract > 0)
    P0 = _cluster_kernels(rng, n_clusters, M, degree, lazy)

    def states(ks):
        ks = np.asarray(ks, dtype=np.int64)
        return ks * M + rng.integers(M, size=ks.shape)

    sources = np.arange(K if wrap else K - 1)
    exit_states = sources[:, None] * M + rng.random((sources.size, M)).argsort(axis=1)[:, :exits]
    targets = np.where(sources == K - 1, 0, sources + 1)
    parts = [(exit_states.ravel(), states(np.repeat(targets, exits)), q,
              np.where(np.repeat(sources, exits) == K - 1, WRAP, FORWARD))]
    if back > 0:
        ks = np.arange(1, K)
        parts.append((states(ks), states(ks - 1), back, BACKWARD))
    if distract > 0:
        ks = np.arange(K - 1)
        parts.append((states(ks), states(np.full(K - 1, K)), distract, DISTRACTOR))
        parts.append((states([K]), states([0]), q, TRAP_EXIT))
    edges = np.concatenate([np.stack([src, dst], axis=1) for src, dst, _, _ in parts])
    weights = np.concatenate([np.full(len(src), w, dtype=float) for src, _, w, _ in parts])
    kinds = np.concatenate([np.broadcast_to(kind, len(src)) for src, _, _, kind in parts])
    if np.any(eps * weights == 0.0):
        raise ValueError(f"eps times the sparse weights must be positive (no edge of probability 0), got eps={eps:g}, "
                         f"q={q:g}, back={back:g}, distract={distract:g}: the product underflows")
    mass = np.bincount(edges[:, 0], weights=eps * weights, minlength=P0.shape[0])
    if mass.max() >= 1.0:
        raise ValueError(f"eps times the sparse weights of a row must be < 1, got {mass.max():g} "
                         f"(eps={eps:g}); lower eps or the weights q, back, distract")
    scale = sp.diags_array(1.0 - mass)
    sparse_part = sp.coo_array((eps * weights, (edges[:, 0], edges[:, 1])), shape=P0.shape)
    P = (scale @ P0 + sparse_part).tocsr()
    P.sum_duplicates()
    P.sort_indices()
    labels = np.repeat(np.arange(n_clusters, dtype=np.int64), M)
    return _freeze(P, labels, edges, np.array(kinds, dtype=np.int64), 0,
                   np.arange((K - 1) * M, K * M, dtype=np.int64), eps, K - 1)


def _freeze(P, labels, edges, kinds, start, goal, eps, goal_cluster):
    for array in (P.data, P.indices, P.indptr, labels, edges, kinds, goal):
        array.flags.writeable = False
    return CotChain(P, labels, edges, kinds, int(start), goal, eps, int(goal_cluster))


def chain_from_csr(P, labels, *, start, goal, sparse_edges=None, eps=None, atol=1e-10):
    """Wrap a user's row-stochastic matrix with cluster labels as a :class:`CotChain`.

    Parameters
    ----------
    P : scipy sparse matrix or array_like, shape (n, n)
        Transition matrix: finite, non-negative, every row summing to 1 within ``atol``.
        It is copied to CSR with sorted indices and explicit zeros removed.
    labels : array_like of int, shape (n,)
        Cluster of each state; the labels used must be exactly ``0 .. K-1``.
    start : int
        Start state.
    goal : int or array_like of int
        Goal state(s), non-empty.
    sparse_edges : array_like of int, shape (m, 2), optional
        The sparse edges; each must be a transition of ``P`` between different clusters.
        Default: every transition between different clusters.
    eps : float, optional
        The :math:`\\varepsilon` the chain was built with, if any (kept for reference).
    atol : float, default 1e-10
        Tolerance on the row sums.

    Returns
    -------
    CotChain
        With ``goal_cluster`` the label of the first goal state and ``edge_kinds`` all
        ``"given"``.

    Raises
    ------
    TypeError, ValueError
        A non-square, negative, non-finite or non-stochastic ``P``; labels of the wrong
        shape or not ``0 .. K-1``; start or goal out of range; sparse edges that are not
        inter-cluster transitions of ``P``.
    """
    if sp.issparse(P):
        P = sp.csr_array(P, dtype=np.float64, copy=True)
    else:
        P = sp.csr_array(_validate.array("P", P, ndim=2, finite=False))
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] == 0:
        raise ValueError(f"P must be a non-empty square matrix, got shape {P.shape}")
    n = P.shape[0]
    P.sum_duplicates()
    P.eliminate_zeros()
    P.sort_indices()
    if not np.all(np.isfinite(P.data)):
        raise ValueError(f"P must be finite, got {np.count_nonzero(~np.isfinite(P.data))} non-finite entries")
    if P.data.size and P.data.min() < 0:
        raise ValueError(f"P must be non-negative, got minimum entry {P.data.min()!r}")
    atol = _validate.positive("atol", atol)
    sums = np.asarray(P.sum(axis=1)).ravel()
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        raise ValueError(f"P must have rows summing to 1 (within atol={atol:g}); {bad.size} rows do not, "
                         f"e.g. row {bad[0]} sums to {sums[bad[0]]!r}")
    labels = _validate.array("labels", labels, ndim=1, dtype=np.float64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one label per state, got {labels.shape}")
    if np.any(labels != np.round(labels)):
        raise ValueError("labels must be integers")
    labels = labels.astype(np.int64)
    used = np.unique(labels)
    if used[0] != 0 or used[-1] != used.size - 1:
        raise ValueError(f"labels must use exactly 0 .. K-1, got the labels {used[:10].tolist()}"
                         f"{' ...' if used.size > 10 else ''}")
    start = _validate.integer("start", start, minimum=0, maximum=n - 1)
    goal = np.unique(np.atleast_1d(np.asarray(goal)))
    if goal.size == 0 or not np.issubdtype(goal.dtype, np.integer):
        raise ValueError(f"goal must be a non-empty set of integer states, got {goal!r}")
    if goal.min() < 0 or goal.max() >= n:
        raise ValueError(f"goal must hold states in [0, {n - 1}], got range [{goal.min()}, {goal.max()}]")
    if eps is not None:
        eps = _validate.positive("eps", eps)
    coo = P.tocoo()
    cross = labels[coo.row] != labels[coo.col]
    if sparse_edges is None:
        edges = np.stack([coo.row[cross], coo.col[cross]], axis=1).astype(np.int64)
    else:
        probe = CotChain(P, labels, np.zeros((0, 2), np.int64), np.zeros(0, np.int64), start, goal, eps,
                         int(labels[goal[0]]))
        edges = as_edges(probe, "sparse_edges", sparse_edges)
        same = labels[edges[:, 0]] == labels[edges[:, 1]]
        if np.any(same):
            x, y = edges[np.argmax(same)]
            raise ValueError(f"sparse_edges must join different clusters, but ({x}, {y}) lies in cluster {labels[x]}")
    kinds = np.full(len(edges), GIVEN, dtype=np.int64)
    return _freeze(P, labels, edges, kinds, start, goal.astype(np.int64), eps, int(labels[goal[0]]))
