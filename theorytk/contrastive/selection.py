"""Mini-batch selection schemes of Cho et al. and the number of steps they need.

Stochastic (projected) gradient descent on the spheres: at step t one batch S_t is chosen
and both U and V move along the projected gradient of its loss :math:`\\ell_{S_t}`, with the
normalising retraction. The schemes (the authors' ``synthetic.py`` names in brackets):

* ``"fixed"`` [``f``]: one random partition into N/B batches, drawn once, visited in turn;
* ``"shuffle"`` [``s``]: a fresh random partition every epoch (N/B steps);
* ``"all"`` [``NcB``]: every step descends the mean over all C(N, B) batches;
* ``"highest_loss"`` [``osgd_NcB``]: the batch of largest :math:`\\ell_S` among all C(N, B);
* ``"lowest_loss"``: the batch of smallest :math:`\\ell_S` (the code's ``best_criteria="min"``);
* ``"spectral"`` [``sc_even``]: every epoch, a partition into N/B equal clusters of the affinity
  :func:`spectral_partition` (pairs whose negatives score high are put together).

Unlike the authors' ``synthetic.py``, which runs SGD on unnormalised parameters through the
normalisation ``u/||u||``, the steps here are projected on the spheres and retracted; the
minimisers are the same, the trajectories differ.

The progress measure is the full-batch loss (the objective with the single batch of all N
pairs), whose minimum is the ETF value :func:`~theorytk.contrastive.loss.etf_loss` ``(N, N)``.
Reference: Cho et al., TMLR 2024 (arXiv 2307.05906): high-loss batches speed up SGD.
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.contrastive import _kernels
from theorytk.contrastive.batches import all_batches
from theorytk.contrastive.loss import etf_loss
from theorytk.contrastive.minimise import initial_points
from theorytk.contrastive.reference import batch_losses, normalise_rows, tangent
from theorytk.random import child_generators

SCHEMES = ("fixed", "shuffle", "all", "highest_loss", "lowest_loss", "spectral")


@dataclass(frozen=True, eq=False)
class SchemeRun:
    """Full-batch loss along one run of a selection scheme.

    Attributes
    ----------
    scheme : str
    full_loss : ndarray, shape (steps + 1,)
        Full-batch loss before the first step and after each step.
    optimum : float
        The full-batch minimum :math:`2\\log(1 + (N-1)e^{-N/((N-1)\\tau)})`.
    """

    scheme: str
    full_loss: np.ndarray
    optimum: float

    def steps_to(self, gap):
        """First step after which the full loss stays within ``gap`` of the optimum; ``None`` if never."""
        gap = _validate.positive("gap", gap)
        above = np.nonzero(self.full_loss - self.optimum > gap)[0]
        if above.size == 0:
            return 0
        last = int(above[-1]) + 1
        return last if last < self.full_loss.size else None


def affinity(U, V, B):
    """The authors' spectral-clustering affinity (``utils.custom_affinity``, then ``exp``), shape (N, N).

    :math:`a_{ij} = \\log(1 + (B-1)e^{z_{ij} - z_{ii}}) + \\log(1 + (B-1)e^{z_{ji} - z_{ii}})` with
    :math:`z = U V^\\top`, symmetrised :math:`a + a^\\top` and exponentiated: large where putting i and j
    in one batch gives a large loss.
    """
    z = U @ V.T
    diag = np.diag(z)[:, None]
    a = np.log1p((B - 1) * np.exp(z - diag)) + np.log1p((B - 1) * np.exp(z.T - diag))
    return np.exp(a + a.T)


def spectral_partition(U, V, B, rng):
    """Equal-size spectral clustering of the pairs into N/B batches (the authors' ``sc_even``).

    Embedding: the N/B leading eigenvectors of the normalised affinity
    :math:`D^{-1/2} A D^{-1/2}`; k-means (``scipy.cluster.vq.kmeans2``, k-means++ start from
    ``rng``) gives N/B centres; each centre is repeated B times and the pairs are assigned to
    the copies by a minimum-cost matching (``scipy.optimize.linear_sum_assignment``), so
    every cluster has exactly B pairs.
    """
    from scipy.cluster.vq import kmeans2
    from scipy.optimize import linear_sum_assignment

    N = U.shape[0]
    k = N // B
    A = affinity(U, V, B)
    scale = 1.0 / np.sqrt(A.sum(axis=1))
    _, vectors = np.linalg.eigh(scale[:, None] * A * scale[None, :])
    embedding = vectors[:, -k:]
    centres, _ = kmeans2(embedding, k, minit="++", seed=rng)
    copies = np.repeat(centres, B, axis=0)
    cost = np.linalg.norm(embedding[:, None, :] - copies[None, :, :], axis=2)
    _, slot = linear_sum_assignment(cost)
    labels = slot // B
    return np.array([np.nonzero(labels == c)[0] for c in range(k)], dtype=np.int64)


def _partition(rng, N, B):
    return rng.permutation(N).reshape(N // B, B).astype(np.int64)


def run_scheme(N, d, B, scheme, steps, *, lr=0.5, tau=1.0, seed=0):
    """SGD on the spheres with batches chosen by ``scheme``; see the module docstring.

    Parameters
    ----------
    N, d, B : int
        Pairs (>= 2), dimension (>= 1), batch size (2 <= B <= N, B divides N).
    scheme : {"fixed", "shuffle", "all", "highest_loss", "lowest_loss", "spectral"}
    steps : int
        Gradient steps (>= 1).
    lr : float, default 0.5
        Step size (the authors' synthetic experiment).
    tau : float, default 1.0
        Temperature (>= 0.01, :data:`~theorytk.contrastive._kernels.TAU_MIN`).
    seed : int or numpy.random.SeedSequence
        Start point from child 0 of ``seed`` (as :func:`~theorytk.contrastive.minimise.minimise`
        restart 0), the partitions from child 1.

    Returns
    -------
    SchemeRun
    """
    N = _validate.integer("N", N, minimum=2)
    d = _validate.integer("d", d, minimum=1)
    B = _validate.integer("B", B, minimum=2, maximum=N)
    if N % B:
        raise ValueError(f"B must divide N for the partition schemes, got N = {N}, B = {B}")
    _validate.choice("scheme", scheme, SCHEMES)
    steps = _validate.integer("steps", steps, minimum=1)
    lr = _validate.positive("lr", lr)
    tau = _validate.real("tau", tau, minimum=_kernels.TAU_MIN)
    U, V = initial_points(N, d, 1, seed)[0]
    rng = child_generators(seed, 2)[1]
    everything, full = all_batches(N, B), all_batches(N, N)
    order = _partition(rng, N, B)
    history = np.empty(steps + 1)
    history[0] = _kernels.loss_and_gradient(U, V, full, tau, True)[0]
    for t in range(steps):
        position = t % (N // B)
        if scheme == "shuffle" and position == 0 and t > 0:
            order = _partition(rng, N, B)
        if scheme == "spectral" and position == 0:
            order = spectral_partition(U, V, B, rng)
        if scheme == "all":
            chosen = everything
        elif scheme in ("highest_loss", "lowest_loss"):
            losses = batch_losses(U, V, everything, tau)
            chosen = everything[np.argmax(losses) if scheme == "highest_loss" else np.argmin(losses)][None]
        else:
            chosen = order[position][None]
        _, gU, gV = _kernels.loss_and_gradient(U, V, chosen, tau, True)
        U, V = normalise_rows(U - lr * tangent(U, gU)), normalise_rows(V - lr * tangent(V, gV))
        history[t + 1] = _kernels.loss_and_gradient(U, V, full, tau, True)[0]
    return SchemeRun(scheme, history, float(etf_loss(N, N, tau)))
