"""Mini-batch optimisation of the symmetric contrastive (InfoNCE) loss and the simplex ETF.

The objective over a batch list (:func:`loss`), its projected-gradient minimiser on the
product of spheres with parallel restarts (:func:`minimise`), batch lists
(:func:`all_batches`, :func:`disjoint_batches`, :func:`random_subset`), the paper's batch-selection
schemes for SGD (:func:`run_scheme`), the reference
configurations (:func:`simplex_etf`, :func:`cross_polytope`) and their losses in closed
form. Reference: J. Cho, K. Sreenivasan et al., "Mini-Batch Optimization of Contrastive
Loss", TMLR 2024 (arXiv 2307.05906); the loss as in the authors' code krafton-ai/mini-batch-cl.
"""
from theorytk.contrastive.batches import all_batches, check_batches, disjoint_batches, random_subset
from theorytk.contrastive.loss import (cross_polytope, cross_polytope_loss, etf_loss, gradient, loss,
                                       partition_batch_loss, simplex_etf)
from theorytk.contrastive.selection import SCHEMES, SchemeRun, run_scheme
from theorytk.contrastive.minimise import ContrastiveSolution, MinimiserDiverged, minimise

__all__ = [
    "ContrastiveSolution",
    "MinimiserDiverged",
    "SCHEMES",
    "SchemeRun",
    "all_batches",
    "check_batches",
    "cross_polytope",
    "cross_polytope_loss",
    "disjoint_batches",
    "etf_loss",
    "gradient",
    "loss",
    "minimise",
    "partition_batch_loss",
    "random_subset",
    "run_scheme",
    "simplex_etf",
]
