r"""A softmax next-state model of the chain, finetuned by PPO-Clip or REINFORCE.

The model is the tabular (one-hot linear) softmax :math:`p_W(y \mid x) =
\mathrm{softmax}_y(W_{xy})` over the support of the chain's row :math:`x`. Pretraining
(:func:`pretrain`) returns the minimiser of the population cross-entropy, :math:`W_{xy} =
\log P(x, y)`, i.e. the end point of "Algorithm 1 Two-stage Pretraining" (Kim, Wu, Lee,
Suzuki, ICML 2025, Thm 3.1 [secondary]) without its sample noise.

Finetuning ("Algorithm 3 PPO-Clip" [secondary]) uses the intrinsic reward of search: the
advantage of a transition is :math:`\hat A(x, y) = \mathbf 1\{(x, y) \in \hat E\}`. Each
iteration samples ``rollouts`` runs of ``horizon`` steps from uniformly random states
under the current model (our choice: exploring starts), then takes ``epochs`` gradient
steps on the clipped surrogate

.. math::

    L(W) = \sum_x \frac{1}{n_x} \sum_{y} c_{xy}\, \hat A(x,y)\,
    \min\!\Big(r_{xy},\ \mathrm{clip}(r_{xy}, 1-c, 1+c)\Big), \qquad
    r_{xy} = \frac{p_W(y\mid x)}{p_{W_{old}}(y\mid x)},

with :math:`c_{xy}` the sampled transition counts and :math:`n_x` the visits of
:math:`x` (a per-state average: our normalisation). Because :math:`\hat A \ge 0` the clip
caps the growth of a rewarded probability at a factor :math:`1+c` per iteration.
REINFORCE is one unclipped step (:math:`r \equiv 1`) per iteration. Rewarded edges whose
probability has reached ``eps_max`` get advantage 0 (our reading of "raises the
sparse-edge probability to :math:`\varepsilon_{max}`", Prop 3.4 [secondary]).

The logit gradient of a rewarded edge is proportional to its probability, so from
:math:`p = \varepsilon` the probability grows by a factor of about
:math:`e^{\mathrm{lr}\cdot\mathrm{epochs}\cdot p}` per iteration until the clip binds: the escape
takes :math:`\sim 1/(\mathrm{lr}\,\varepsilon)` iterations. Measured on ``cot_chain(4, 16, eps)``
with ``lr=1``: from :math:`\varepsilon = 10^{-2}` the clip binds and :math:`\varepsilon_{max} = 0.1`
is reached in about 20 iterations, but from :math:`\varepsilon = 10^{-3}` 40 iterations only
reach :math:`1.3 \times 10^{-3}`; a step size of order :math:`1/\varepsilon` overshoots the clip
once :math:`p` has grown (the clip only masks the gradient after the step).

Tracked per iteration: the mean probability of the rewarded edges, the total-variation
drift :math:`\sum_x \pi_0(x)\, \mathrm{TV}(p_W(\cdot\mid x), p_0(\cdot\mid x))` and its
maximum over states, and the exact hitting time of the goal under :math:`p_W`.
"""
from dataclasses import dataclass

import numba
import numpy as np

from theorytk import _validate
from theorytk._jit import numba_threads
from theorytk.errors import SolverFailure
from theorytk.metastable import _kernels
from theorytk.metastable.chains import CotChain, as_edges, cumulative_rows
from theorytk.metastable.exact import check_chain, hitting_times, stationary_distribution
from theorytk.random import as_seed_sequence, generator, stream_seeds

__all__ = ["FinetuneResult", "SoftmaxModel", "finetune", "pretrain"]


@dataclass(frozen=True, eq=False)
class SoftmaxModel:
    """A tabular softmax next-state model on the support of ``chain.P``.

    Attributes
    ----------
    chain : CotChain
        Supplies the support (CSR structure), labels, start and goal.
    logits : ndarray, shape (nnz,)
        :math:`W_{xy}` aligned with ``chain.P.data``.
    """

    chain: CotChain
    logits: np.ndarray

    @property
    def rows(self):
        P = self.chain.P
        return np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))

    def probabilities(self):
        """:math:`p_W(y\\mid x)` aligned with ``chain.P.data`` (row-wise softmax)."""
        return _softmax_rows(self.logits, self.chain.P.indptr, self.rows)

    def as_chain(self):
        """The chain :math:`p_W` as a :class:`CotChain` (same labels, edges, start, goal)."""
        P = self.chain.P.copy()
        P.data = self.probabilities()
        P.data.flags.writeable = False
        return self.chain.with_matrix(P)


class FinetuneDiverged(SolverFailure, FloatingPointError):
    """A logit of :func:`finetune` left the floating-point range; the message gives the iteration and a hint."""


def _softmax_rows(logits, indptr, rows):
    top = np.maximum.reduceat(logits, indptr[:-1])
    w = np.exp(logits - top[rows])
    return w / np.add.reduceat(w, indptr[:-1])[rows]


def pretrain(chain):
    """The cross-entropy minimiser :math:`W_{xy} = \\log P(x, y)` on the chain's support."""
    chain = check_chain(chain)
    logits = np.log(chain.P.data)
    return SoftmaxModel(chain, logits)


@dataclass(frozen=True, eq=False)
class FinetuneResult:
    """Outcome of :func:`finetune`; arrays have one entry per iteration plus the start.

    Attributes
    ----------
    model : SoftmaxModel
        The finetuned model.
    sparse_probability : ndarray
        Mean :math:`p_W(y\\mid x)` over the rewarded edges.
    tv_drift : ndarray
        :math:`\\sum_x \\pi_0(x) \\mathrm{TV}(p_W(\\cdot|x), p_0(\\cdot|x))`.
    tv_max : ndarray
        :math:`\\max_x \\mathrm{TV}(p_W(\\cdot|x), p_0(\\cdot|x))`.
    hitting_time : ndarray
        Exact :math:`E_{x_{in}}[\\tau_{goal}]` under :math:`p_W`.
    method : str
    """

    model: SoftmaxModel
    sparse_probability: np.ndarray
    tv_drift: np.ndarray
    tv_max: np.ndarray
    hitting_time: np.ndarray
    method: str


def finetune(chain, reward, *, method="ppo-clip", iterations=30, rollouts=64, horizon=1000, lr=1.0, clip=0.2,
             epochs=4, eps_max=None, seed=0, model=None):
    """Finetune the pretrained softmax model with advantage 1 on the rewarded edges.

    Parameters
    ----------
    chain : CotChain
    reward : array_like of int, shape (m, 2)
        The rewarded edges :math:`\\hat E` (e.g. ``sparse_edge_search(...).edges``).
    method : {"ppo-clip", "reinforce"}
    iterations, rollouts, horizon, epochs : int
    lr : float
        Step size on the logits.
    clip : float
        PPO clip range :math:`c` in (0, 1).
    eps_max : float, optional
        Stop rewarding an edge once its probability reaches this (default: never).
    seed : int or numpy.random.SeedSequence
    model : SoftmaxModel, optional
        Start model (default :func:`pretrain`).

    Returns
    -------
    FinetuneResult
    """
    chain = check_chain(chain)
    edges = as_edges(chain, "reward", reward)
    if len(edges) == 0:
        raise ValueError("reward must hold at least one edge")
    method = _validate.choice("method", method, ("ppo-clip", "reinforce"))
    iterations = _validate.integer("iterations", iterations, minimum=1)
    rollouts = _validate.integer("rollouts", rollouts, minimum=1)
    horizon = _validate.integer("horizon", horizon, minimum=1)
    epochs = _validate.integer("epochs", epochs, minimum=1)
    lr = _validate.positive("lr", lr)
    clip = _validate.real("clip", clip, minimum=0.0, strict_minimum=True, maximum=1.0)
    eps_max = np.inf if eps_max is None else _validate.real("eps_max", eps_max, minimum=0.0, strict_minimum=True,
                                                            maximum=1.0)
    root = as_seed_sequence(seed)
    model = pretrain(chain) if model is None else model
    if not isinstance(model, SoftmaxModel) or model.chain.P.nnz != chain.P.nnz:
        raise TypeError("model must be a SoftmaxModel on this chain's support")

    rewarded = chain.edge_mask(edges)
    indptr, rows = chain.P.indptr, model.rows
    p0 = model.probabilities()
    pi0 = stationary_distribution(chain)
    rng = generator(root)
    logits = model.logits.copy()
    track = {"sparse": [], "tv": [], "tv_max": [], "tau": []}

    def record(p):
        tv = 0.5 * np.add.reduceat(np.abs(p - p0), indptr[:-1])
        track["sparse"].append(float(p[rewarded].mean()))
        track["tv"].append(float(pi0 @ tv))
        track["tv_max"].append(float(tv.max()))
        track["tau"].append(hitting_times(SoftmaxModel(chain, logits).as_chain()).at(chain.start))

    record(p0)
    for it in range(iterations):
        p_old = _softmax_rows(logits, indptr, rows)
        counts = sample_transition_counts(chain, p_old, rng.integers(chain.n_states, size=rollouts), horizon,
                                np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + (it,)))
        visits = np.add.reduceat(counts, indptr[:-1])[rows]
        advantage = np.where(rewarded & (p_old < eps_max) & (visits > 0), counts / np.maximum(visits, 1), 0.0)
        for _ in range(1 if method == "reinforce" else epochs):
            p = _softmax_rows(logits, indptr, rows)
            if method == "reinforce":
                weight = advantage
            else:
                # the ratio only where the advantage is non-zero: there the edge was sampled, so p_old > 0 (an edge
                # whose probability underflowed to 0 gave 0/0 = nan, and 0 * nan poisoned every logit of its row)
                ratio = np.divide(p, p_old, out=np.zeros_like(p), where=advantage != 0.0)
                weight = advantage * ratio * (ratio < 1.0 + clip)
            with np.errstate(over="ignore"):     # an overflow is reported just below, with the iteration
                logits += lr * (weight - p * np.add.reduceat(weight, indptr[:-1])[rows])
            if not np.all(np.isfinite(logits)):
                raise FinetuneDiverged(f"finetune ({method}): logits left the float64 range at iteration {it + 1} "
                                       f"of {iterations}; lower lr (now {lr:g})")
        record(_softmax_rows(logits, indptr, rows))
    return FinetuneResult(SoftmaxModel(chain, logits), *(np.array(track[k]) for k in ("sparse", "tv", "tv_max", "tau")),
                          method)


def sample_transition_counts(chain, probs, starts, horizon, seed):
    """Transition counts per CSR entry of ``len(starts)`` runs of ``horizon`` steps under ``probs``."""
    P = chain.P
    indptr, indices, _ = chain.table
    cum = cumulative_rows(indptr, probs)
    entries = np.empty((len(starts), horizon), dtype=np.int64)
    with numba_threads(min(numba.get_num_threads(), len(starts))):
        _kernels.trajectories(indptr, indices, cum,
                              starts.astype(np.int64), stream_seeds(seed, len(starts)), entries)
    return np.bincount(entries.ravel(), minlength=P.nnz).astype(np.float64)
