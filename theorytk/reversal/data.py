r"""Entity tasks that know their truth: pairs for the reversal curse, chains for intransitivity.

Entities are tokens :math:`0..M-1` with embeddings :math:`e_j` (rows of ``embeddings``):

* ``"one_hot"``: :math:`e_j` the standard basis of :math:`\mathbb R^M` (``d = M``);
* ``"gaussian"``: :math:`e_j \sim N(0, I_d/d)` i.i.d., one shared table for inputs and outputs
  (our reading; whether the paper shares them and how it draws them is unconfirmed).

:func:`entity_pairs` follows the authors' data recipe (``src/datasets/ReverseDataset.py`` of
marlo-z/reversal_curse_analysis: entity pairs over disjoint alphabets, a share of the pairs
trained in both directions, the rest in one direction with the other held out), simplified as
in our notes: the one trained direction is always :math:`A_i \to B_i` (the authors' code picks it
at random per pair; the two are the same up to renaming). :func:`entity_chains` is the
intransitivity experiment: :math:`A_i \to B_i` and :math:`B_i \to C_i` trained,
:math:`A_i \to C_i` tested.
"""
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from theorytk import _validate
from theorytk.random import generator

__all__ = ["EMBEDDINGS", "EntityTask", "entity_chains", "entity_pairs"]

EMBEDDINGS = ("one_hot", "gaussian")


@dataclass(frozen=True, eq=False)
class EntityTask:
    """Training pairs over ``M`` embedded entities, and the held-out pairs the truth names.

    Attributes
    ----------
    kind : {"pairs", "chains"}
    groups : int
        ``P``: the number of pairs (or chains); entity :math:`A_i = i`, :math:`B_i = P + i`
        (chains: :math:`C_i = 2P + i`).
    embeddings : ndarray, shape (M, d)
    inputs, targets : ndarray of int64, shape (N,)
        The training pairs :math:`x_n \to y_n`.
    tests : Mapping[str, tuple of two int64 arrays]
        Named pair sets ``(inputs, targets)``. Pairs: ``"forward"`` (every
        :math:`A_i \to B_i`), ``"reverse"`` (:math:`B_i \to A_i` for the pairs trained forward
        only: the reverse-untrained truth), ``"reverse_trained"`` (:math:`B_i \to A_i` for the
        pairs trained both ways). Chains: ``"first"`` (:math:`A\to B`), ``"second"``
        (:math:`B \to C`), ``"transitive"`` (:math:`A \to C`, never trained).
    both : ndarray of bool, shape (P,)
        Pairs trained in both directions (all False for chains).
    embedding : str
    seed : int or numpy.random.SeedSequence
    """

    kind: str
    groups: int
    embeddings: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray
    tests: MappingProxyType
    both: np.ndarray
    embedding: str
    seed: object

    def __post_init__(self):
        E = _validate.array("embeddings", self.embeddings, ndim=2)
        M = E.shape[0]
        inputs = _validate.array("inputs", self.inputs, ndim=1, dtype=np.int64)
        targets = _validate.array("targets", self.targets, shape=(inputs.size,), dtype=np.int64)
        if inputs.size == 0:
            raise ValueError("inputs must hold at least one training pair, got none")
        for name, ids in (("inputs", inputs), ("targets", targets)):
            if ids.min() < 0 or ids.max() >= M:
                raise ValueError(f"{name} must be entity ids in [0, {M - 1}], got range [{ids.min()}, {ids.max()}]")
        object.__setattr__(self, "embeddings", E)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "tests", MappingProxyType(dict(self.tests)))

    @property
    def M(self):
        """Number of entities (the vocabulary of the next-token softmax)."""
        return self.embeddings.shape[0]

    @property
    def d(self):
        """Embedding dimension."""
        return self.embeddings.shape[1]

    @property
    def N(self):
        """Number of training pairs."""
        return self.inputs.size

    def gram(self):
        """:math:`K = E E^\\top`, shape (M, M)."""
        return self.embeddings @ self.embeddings.T

    def pairs(self, name):
        """The test pairs ``(inputs, targets)`` called ``name`` (one of :attr:`tests`)."""
        _validate.choice("name", name, tuple(self.tests))
        return self.tests[name]


def _embeddings(kind, M, d, rng):
    _validate.choice("embedding", kind, EMBEDDINGS)
    if kind == "one_hot":
        if d is not None and (isinstance(d, bool) or d != M):
            raise ValueError(f"d must be None or the number of entities M = {M} for one-hot embeddings, got {d!r}")
        return np.eye(M)
    if d is None:
        raise ValueError("d must be given (an integer >= 1) for gaussian embeddings, got None")
    d = _validate.integer("d", d, minimum=1)
    return rng.standard_normal((M, d)) / np.sqrt(d)


def _ids(values):
    return np.asarray(values, dtype=np.int64)


def entity_pairs(entities, both_directions=0.0, embedding="one_hot", d=None, seed=0):
    r"""Pairs :math:`(A_i, B_i)`, :math:`i < P`: every :math:`A_i \to B_i` trained, a share also :math:`B_i \to A_i`.

    Parameters
    ----------
    entities : int
        ``P >= 1``, the number of pairs; ``M = 2P`` entities.
    both_directions : float in [0, 1]
        Share of the pairs also trained in reverse (``round(share * P)`` of them, drawn by
        ``seed``); the remaining pairs' reverse :math:`B_i \to A_i` is the held-out test
        ``"reverse"``.
    embedding : {"one_hot", "gaussian"}
    d : int, optional
        Embedding dimension (gaussian; one-hot has ``d = M``).
    seed : int or numpy.random.SeedSequence
        Draws the bidirectional subset and the gaussian embeddings.

    Returns
    -------
    EntityTask
    """
    P = _validate.integer("entities", entities, minimum=1)
    share = _validate.real("both_directions", both_directions, minimum=0.0, maximum=1.0)
    rng = generator(_validate.seed("seed", seed))
    E = _embeddings(embedding, 2 * P, d, rng)
    both = np.zeros(P, dtype=bool)
    both[rng.permutation(P)[:int(round(share * P))]] = True
    A, B = np.arange(P), P + np.arange(P)
    tests = {"forward": (_ids(A), _ids(B)), "reverse": (_ids(B[~both]), _ids(A[~both])),
             "reverse_trained": (_ids(B[both]), _ids(A[both]))}
    return EntityTask("pairs", P, E, np.r_[A, B[both]], np.r_[B, A[both]], tests, both, embedding, seed)


def entity_chains(entities, embedding="one_hot", d=None, seed=0):
    r"""Chains :math:`A_i \to B_i \to C_i`, :math:`i < P`: both links trained, :math:`A_i \to C_i` tested.

    Parameters
    ----------
    entities : int
        ``P >= 1``, the number of chains; ``M = 3P`` entities.
    embedding, d, seed
        As in :func:`entity_pairs` (``seed`` draws the gaussian embeddings).

    Returns
    -------
    EntityTask
    """
    P = _validate.integer("entities", entities, minimum=1)
    rng = generator(_validate.seed("seed", seed))
    E = _embeddings(embedding, 3 * P, d, rng)
    A, B, C = np.arange(P), P + np.arange(P), 2 * P + np.arange(P)
    tests = {"first": (_ids(A), _ids(B)), "second": (_ids(B), _ids(C)), "transitive": (_ids(A), _ids(C))}
    return EntityTask("chains", P, E, np.r_[A, B], np.r_[B, C], tests, np.zeros(P, dtype=bool), embedding, seed)
