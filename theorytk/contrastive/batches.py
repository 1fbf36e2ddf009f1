"""Batch lists: which mini-batches of the N pairs the objective averages over.

A batch list is an ``int64`` array of shape ``(m, B)``: ``m`` batches of ``B`` distinct
indices in ``0..N-1``. Cho et al. (TMLR 2024, arXiv 2307.05906) show that the mini-batch
optimum equals the full-batch one (the simplex ETF) when all :math:`\\binom{N}{B}` batches
are used, and that it may not otherwise; :func:`disjoint_batches` and
:func:`random_subset` are the "otherwise".
"""
import itertools
from math import comb

import numpy as np

from theorytk import _validate
from theorytk.random import generator

#: Largest batch list :func:`all_batches` builds (C(N, B) rows).
MAX_BATCHES = 200_000


def _sizes(N, B):
    N = _validate.integer("N", N, minimum=2)
    B = _validate.integer("B", B, minimum=2)
    if B > N:
        raise ValueError(f"B must be <= N = {N}, got B = {B}")
    return N, B


def all_batches(N, B):
    """All :math:`\\binom{N}{B}` batches, in lexicographic order (``itertools.combinations``)."""
    N, B = _sizes(N, B)
    if comb(N, B) > MAX_BATCHES:
        raise ValueError(f"C(N, B) = C({N}, {B}) = {comb(N, B)} batches exceeds the limit {MAX_BATCHES}")
    return np.array(list(itertools.combinations(range(N), B)), dtype=np.int64)


def disjoint_batches(N, B):
    """The fixed partition ``{0..B-1}, {B..2B-1}, ...`` into ``N/B`` batches (B must divide N)."""
    N, B = _sizes(N, B)
    if N % B:
        raise ValueError(f"B must divide N for a partition, got N = {N}, B = {B}")
    return np.arange(N, dtype=np.int64).reshape(N // B, B)


def random_subset(N, B, m, seed):
    """``m`` distinct batches drawn uniformly without replacement from all :math:`\\binom{N}{B}`, sorted."""
    full = all_batches(N, B)
    m = _validate.integer("m", m, minimum=1, maximum=len(full))
    rows = np.sort(generator(seed).choice(len(full), size=m, replace=False))
    return full[rows]


def check_batches(batches, N):
    """Return ``batches`` as a C-contiguous ``(m, B)`` int64 array with valid distinct indices below ``N``."""
    array = _validate.nested("batches", batches, "an (m, B) array of indices, every batch of the same size B")
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 2:
        raise ValueError(f"batches must have shape (m >= 1, B >= 2), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"batches must hold integers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.int64)
    if array.min() < 0 or array.max() >= N:
        raise ValueError(f"batch indices must lie in [0, N - 1] = [0, {N - 1}], got range "
                         f"[{array.min()}, {array.max()}]")
    ordered = np.sort(array, axis=1)
    if np.any(ordered[:, 1:] == ordered[:, :-1]):
        raise ValueError("each batch must hold distinct indices; a batch repeats one")
    return array
