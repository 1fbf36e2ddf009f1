r"""Distillation to the cluster-level meta-chain, and its time rescaling.

The stationary-weighted aggregate of a chain over a partition :math:`C_1..C_K`,

.. math::

    Q_{kl} = \frac{1}{\pi(C_k)} \sum_{i \in C_k} \pi_i\, P(i, C_l),

has stationary law :math:`\bar\pi_k = \pi(C_k)` for *every* chain and partition
(``proofs.metastable_cot.AGGREGATION``); for a metastable chain its off-diagonal entries
are :math:`\varepsilon q/M\,(1 + O(\varepsilon))` and it reproduces the long-time
dynamics ("Algorithm 4 Meta-chain Distillation" of Kim, Wu, Lee, Suzuki, ICML 2025
[secondary]). The distilled softmax model :math:`\hat q_Z` has logits :math:`Z = \log Q`;
adding :math:`\beta = \log(M/\varepsilon)` to its off-diagonal logits (:math:`Z^+`) makes
the meta-chain move every :math:`O(1)` steps, so it reaches the goal in :math:`O(K)` steps
independently of :math:`\varepsilon` (Thm 4.3 [secondary]). :func:`distill` builds
:math:`Q` from the stationary law or from the cluster transitions of sampled runs.
"""
import math
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from theorytk import _validate
from theorytk._jit import numba_threads
from theorytk.metastable import _kernels
from theorytk.metastable.chains import chain_from_csr
from theorytk.metastable.exact import check_chain, hitting_times, stationary_distribution
from theorytk.random import stream_seeds

__all__ = ["MetaChain", "aggregate", "distill", "rescale_logits"]


def aggregate(P, labels, pi):
    """The :math:`\\pi`-weighted aggregate ``Q`` (dense K x K) and :math:`\\bar\\pi` of any chain and partition."""
    P = sp.csr_array(P)
    K = int(labels.max()) + 1
    n = P.shape[0]
    lump = sp.csr_array((np.ones(n), (np.arange(n), labels)), shape=(n, K))
    flow = (lump.T @ sp.diags_array(pi) @ P @ lump).toarray()
    pi_bar = np.bincount(labels, weights=pi, minlength=K)
    return flow / pi_bar[:, None], pi_bar


def rescale_logits(Q, beta):
    """Softmax rows of ``log Q + beta (1 - I)``: the time-rescaled meta-chain :math:`\\hat q_{Z^+}`."""
    with np.errstate(divide="ignore"):
        Z = np.log(Q) + beta * (1.0 - np.eye(Q.shape[0]))
    Z -= Z.max(axis=1, keepdims=True)
    W = np.exp(Z)
    return W / W.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class MetaChain:
    """A distilled cluster-level chain (:func:`distill`).

    Attributes
    ----------
    Q : ndarray, shape (K, K)
        The meta-chain kernel :math:`q_\\circ`.
    Q_rescaled : ndarray, shape (K, K)
        After adding ``beta`` to the off-diagonal logits.
    beta : float
    pi_bar : ndarray, shape (K,)
        :math:`\\pi(C_k)` (stationary method) or the visit frequencies (sample method).
    representatives : ndarray of int64, shape (K,)
        :math:`\\iota`: the first state of each cluster (the start for the start's cluster).
    transitions : ndarray of int64, shape (K, K) or None
        Counted cluster transitions (sample method).
    start_cluster, goal_cluster : int
    """

    Q: np.ndarray
    Q_rescaled: np.ndarray
    beta: float
    pi_bar: np.ndarray
    representatives: np.ndarray
    transitions: np.ndarray | None
    start_cluster: int
    goal_cluster: int

    def hitting_time(self, rescaled=False):
        """Exact expected steps of the meta-chain from the start cluster to the goal cluster."""
        Q = self.Q_rescaled if rescaled else self.Q
        K = Q.shape[0]
        meta = chain_from_csr(Q, np.arange(K), start=self.start_cluster, goal=self.goal_cluster, atol=1e-9)
        return hitting_times(meta).at(self.start_cluster)


def distill(chain, *, method="stationary", beta=None, walkers=64, steps=100_000, seed=0):
    """Distill a chain to its K-state meta-chain.

    Parameters
    ----------
    chain : CotChain
    method : {"stationary", "samples"}
        ``"stationary"``: the :math:`\\pi`-weighted aggregate (exact). ``"samples"``: the
        maximum-likelihood softmax fit (empirical frequencies) of the cluster transitions
        of ``walkers`` runs of ``steps`` steps from ``chain.start``.
    beta : float, optional
        Off-diagonal logit shift; default :math:`\\log(M/\\varepsilon)` with :math:`M` the
        largest cluster (needs ``chain.eps``).
    walkers, steps : int
        Sample method only.
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    MetaChain

    Raises
    ------
    ValueError
        Unknown method, no ``eps`` to default ``beta`` from, or (sample method) a cluster
        the runs never left or never visited.
    """
    chain = check_chain(chain)
    method = _validate.choice("method", method, ("stationary", "samples"))
    if beta is None:
        if chain.eps is None:
            raise ValueError("beta must be given for a chain without eps (default beta = log(M/eps))")
        beta = math.log(chain.cluster_sizes.max() / chain.eps)
    beta = _validate.real("beta", beta, minimum=0.0)
    K = chain.n_clusters
    counts = None
    if method == "stationary":
        Q, pi_bar = aggregate(chain.P, chain.labels, stationary_distribution(chain))
    else:
        walkers = _validate.integer("walkers", walkers, minimum=1)
        steps = _validate.integer("steps", steps, minimum=1)
        counts = _cluster_transitions(chain, walkers, steps, _validate.seed("seed", seed))
        visits = counts.sum(axis=1)
        if np.any(visits == 0) or np.any(np.diag(counts) == visits):
            raise ValueError(f"the sampled runs never visited or never left some cluster (visits {visits.tolist()}); "
                             "increase steps or walkers")
        Q, pi_bar = counts / visits[:, None], visits / visits.sum()
    representatives = np.array([chain.start if chain.labels[chain.start] == k else chain.cluster(k)[0]
                                for k in range(K)], dtype=np.int64)
    return MetaChain(Q, rescale_logits(Q, beta), beta, pi_bar, representatives, counts,
                     int(chain.labels[chain.start]), chain.goal_cluster)


def _cluster_transitions(chain, walkers, steps, seed):
    indptr, indices, cum = chain.table
    entries = np.empty((walkers, steps), dtype=np.int64)
    with numba_threads(min(numba.get_num_threads(), walkers)):
        _kernels.trajectories(indptr, indices, cum, np.full(walkers, chain.start, dtype=np.int64),
                              stream_seeds(seed, walkers), entries)
    path = chain.labels[np.concatenate([np.full((walkers, 1), chain.start), indices[entries]], axis=1)]
    K = chain.n_clusters
    pairs = path[:, :-1] * K + path[:, 1:]
    return np.bincount(pairs.ravel(), minlength=K * K).reshape(K, K)
