r"""Rewarding sparse edges: boosting them, and finding them by Sparse Edge Search.

Boosting (the PRM mode of Kim, Wu, Lee, Suzuki, ICML 2025, Sec. 3): every rewarded
sparse edge :math:`x \to y` gets probability :math:`f P(x, y)` and the rest of its row is
scaled so that the row still sums to one. For :func:`theorytk.metastable.cot_chain` with
one exit per cluster the renewal identity gives :math:`E(f) - b = (E(1) - b)/f` exactly
(``proofs.metastable_cot.BOOSTED``): the :math:`1/\varepsilon` term falls like :math:`1/f`.
Rewarding only a subset (e.g. the edges into a trap) can make things worse.

Search ("Algorithm 2 Sparse Edge Search", [secondary]: notes/metastable.md, Sec. 1): N
parallel rollouts, each of R rounds; a round walks ``burn_in`` steps and takes the set of
visited states as the current cluster :math:`\hat C`, then walks on until the first step
leaving :math:`\hat C`, which is flagged as a sparse edge. Every step counts towards the
cost. One digest of the paper describes :math:`\hat C` as the states visited by *all*
rollouts together, the first exit of any rollout being flagged; here each rollout keeps
its own :math:`\hat C` (independent rollouts, so the cost and recall are per rollout).
"""
import math
from dataclasses import dataclass

import numba
import numpy as np

from theorytk import _validate
from theorytk._jit import numba_threads
from theorytk.metastable import _kernels
from theorytk.metastable.chains import as_edges
from theorytk.metastable.exact import check_chain, path_exits, quasi_stationary
from theorytk.random import stream_seeds

__all__ = ["SearchResult", "boost_sparse_edges", "default_search_plan", "predicted_recall", "sparse_edge_search"]


def boost_sparse_edges(chain, factor, edges=None):
    r"""The chain with the given sparse edges' probabilities multiplied by ``factor``.

    In a row with boosted mass :math:`b`, boosted entries become :math:`f p` and the others
    are scaled by :math:`(1 - f b)/(1 - b)`.

    Parameters
    ----------
    chain : CotChain
    factor : float
        :math:`f > 0`; every affected row must keep :math:`f b < 1`.
    edges : array_like of int, shape (m, 2), optional
        Edges to boost; default all of ``chain.sparse_edges``.

    Returns
    -------
    CotChain
        Same labels, sparse edges, start and goal.
    """
    chain = check_chain(chain)
    factor = _validate.positive("factor", factor)
    edges = chain.sparse_edges if edges is None else as_edges(chain, "edges", edges)
    P = chain.P.copy()
    mask = chain.edge_mask(edges)
    rows = np.repeat(np.arange(chain.n_states), np.diff(P.indptr))
    boosted = np.bincount(rows[mask], weights=P.data[mask], minlength=chain.n_states)
    if np.max(factor * boosted) >= 1.0:
        worst = int(np.argmax(boosted))
        raise ValueError(f"factor={factor:g} makes the boosted mass of row {worst} reach "
                         f"{factor * boosted[worst]:g} >= 1; the largest allowed factor is {1 / boosted.max():g}")
    scale = (1.0 - factor * boosted) / (1.0 - boosted)
    P.data = np.where(mask, factor * P.data, scale[rows] * P.data)
    P.data.flags.writeable = False
    return chain.with_matrix(P)


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Outcome of :func:`sparse_edge_search`.

    Attributes
    ----------
    edges : ndarray of int64, shape (m, 2)
        The distinct flagged edges :math:`\\hat E`, sorted.
    cost : int
        Total rollout steps (burn-in included).
    rounds_completed : ndarray of int64, shape (rollouts,)
    recall : float
        Fraction of ``chain.sparse_edges`` in :math:`\\hat E`.
    false_edges : int
        Distinct flagged edges that are not sparse edges.
    flags, false_flags : int
        Flags raised over all rounds, and those that were not sparse edges (with multiplicity).
    rollouts, rounds, burn_in, max_steps : int
        The plan that was run.
    """

    edges: np.ndarray
    cost: int
    rounds_completed: np.ndarray
    recall: float
    false_edges: int
    flags: int
    false_flags: int
    rollouts: int
    rounds: int
    burn_in: int
    max_steps: int


def default_search_plan(chain):
    r"""Our defaults: N = ceil(2 ln K) + 1 rollouts, R = ceil(2 K ln K) rounds, T_0 = ceil(20 M ln M) burn-in.

    The paper sets :math:`N = \Theta(\log K)`, :math:`R = \Theta(K \log K)` [secondary]; the
    constants and the burn-in here are ours. A round flags a false edge in two ways: the
    burn-in misses a state of the cluster (about :math:`M^{1 - c/t_{rel}}` missed states for
    :math:`T_0 = c M \ln M` and relaxation time :math:`t_{rel}`; :func:`cot_chain` clusters
    have :math:`t_{rel} \approx 6.4`), or the walk leaves the cluster *during* the burn-in
    (probability at most :math:`T_0\, \varepsilon \sum q / M`). So :math:`T_0` must sit between
    the cover time and the exit time :math:`M/(\varepsilon \sum q)`: for :math:`M = 16` this
    needs :math:`\varepsilon \lesssim 10^{-3}`. Pass ``burn_in`` for other chains.
    """
    K = chain.n_clusters
    M = int(chain.cluster_sizes.max())
    return (math.ceil(2 * math.log(K)) + 1, math.ceil(2 * K * math.log(K)), math.ceil(20 * M * math.log(M)))


def sparse_edge_search(chain, *, budget=None, rollouts=None, rounds=None, burn_in=None, start=None, seed=0,
                       threads=None):
    """Run Sparse Edge Search; return the flagged edges, their recall and the rollout cost.

    Parameters
    ----------
    chain : CotChain
    budget : int, optional
        Total rollout steps, split evenly over the rollouts (a rollout stops when its
        share is spent). Default: no limit (every rollout completes its rounds).
    rollouts, rounds, burn_in : int, optional
        Default :func:`default_search_plan`.
    start : int, optional
        Start state of every rollout (default ``chain.start``).
    seed : int or numpy.random.SeedSequence
    threads : int, optional

    Returns
    -------
    SearchResult
    """
    chain = check_chain(chain)
    plan = default_search_plan(chain)
    rollouts = plan[0] if rollouts is None else _validate.integer("rollouts", rollouts, minimum=1)
    rounds = plan[1] if rounds is None else _validate.integer("rounds", rounds, minimum=1)
    burn_in = plan[2] if burn_in is None else _validate.integer("burn_in", burn_in, minimum=0)
    max_steps = np.iinfo(np.int64).max if budget is None else max(
        1, _validate.integer("budget", budget, minimum=1) // rollouts)
    start = chain.start if start is None else _validate.integer("start", start, minimum=0,
                                                                maximum=chain.n_states - 1)
    seed = _validate.seed("seed", seed)
    threads = numba.get_num_threads() if threads is None else _validate.integer(
        "threads", threads, minimum=1, maximum=numba.config.NUMBA_NUM_THREADS)
    indptr, indices, cum = chain.table
    src = np.empty((rollouts, rounds), dtype=np.int64)
    dst = np.empty((rollouts, rounds), dtype=np.int64)
    cost = np.empty(rollouts, dtype=np.int64)
    with numba_threads(min(threads, rollouts)):
        _kernels.search_rollouts(indptr, indices, cum, np.full(rollouts, start, dtype=np.int64),
                                 stream_seeds(seed, rollouts), burn_in, rounds, max_steps, src, dst, cost)
    found = src >= 0
    edges = np.unique(np.stack([src[found], dst[found]], axis=1).reshape(-1, 2), axis=0)
    true = {tuple(e) for e in chain.sparse_edges.tolist()}
    flagged = {tuple(e) for e in edges.tolist()}
    recall = len(true & flagged) / len(true) if true else 1.0
    false_flags = sum((x, y) not in true for x, y in zip(src[found].tolist(), dst[found].tolist()))
    return SearchResult(edges, int(cost.sum()), found.sum(axis=1), recall, len(flagged - true), int(found.sum()),
                        int(false_flags), rollouts, rounds, burn_in, int(max_steps))


def _convolve(a, b):
    """The full linear convolution of ``a`` and ``b`` by real FFTs (zero-padded to a power of two)."""
    size = a.size + b.size - 1
    n = 1 << (size - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(a, n) * np.fft.rfft(b, n), n)[:size]


def predicted_recall(chain, budget, *, rollouts=None, burn_in=None):
    r"""Expected recall of :func:`sparse_edge_search` on a forward chain with one exit per cluster.

    Derived here from the quasi-stationary exit law (:func:`theorytk.metastable.quasi_stationary`):
    after a burn-in far longer than a cluster's relaxation time the walker is close to the
    cluster's QSD, from which the exit time is exactly Geometric(:math:`1-\lambda_k`). A rollout
    with :math:`L` = ``budget // rollouts`` steps finds the exit edge of the ``k``-th cluster on
    its path when :math:`S_k = \sum_{j \le k} (T_0 + G_j) \le L`, so with :math:`N` independent
    rollouts

    .. math::

        E[\text{recall}] = \frac1m \sum_{k} \Big[1 - \big(1 - P(S_k \le L)\big)^N\Big]

    over the :math:`m` sparse edges met in path order (clusters ``0 .. K-1``, the wrap edge
    last). Neglected: exits during a burn-in (probability at most :math:`T_0 \varepsilon q / M`
    per cluster, which only speeds the rollout up) and the distance of the post-burn-in law
    from the QSD (exponentially small in :math:`T_0/t_{rel}`).

    Parameters
    ----------
    chain : CotChain
        From :func:`cot_chain` with ``exits=1``, no backward or distractor edges.
    budget : int
    rollouts, burn_in : int, optional
        As for :func:`sparse_edge_search`.
    """
    chain = check_chain(chain)
    plan = default_search_plan(chain)
    rollouts = plan[0] if rollouts is None else _validate.integer("rollouts", rollouts, minimum=1)
    burn_in = plan[2] if burn_in is None else _validate.integer("burn_in", burn_in, minimum=0)
    limit = _validate.integer("budget", budget, minimum=1) // rollouts
    exits = path_exits(chain)
    if any(len(e) != 1 for e in exits) or len(chain.sparse_edges) != chain.n_clusters:
        raise ValueError("predicted_recall needs one forward exit per cluster and the wrap edge (cot_chain with "
                         "exits=1, wrap=True, back=0, distract=0)")
    steps = np.arange(limit + 1)
    total = np.zeros(limit + 1)
    total[0] = 1.0  # law of S_{k-1}, truncated at the budget
    found = []
    for k in range(chain.n_clusters):
        lam = quasi_stationary(chain, k).eigenvalue
        phase = np.zeros(limit + 1)  # law of T_0 + G_k
        g = steps[: max(limit + 1 - burn_in, 0)]
        phase[burn_in:] = np.where(g >= 1, (1 - lam) * lam ** np.maximum(g - 1, 0), 0.0)
        total = np.clip(_convolve(total, phase)[: limit + 1], 0.0, None)
        found.append(1.0 - (1.0 - min(total.sum(), 1.0)) ** rollouts)
    return float(np.mean(found))
