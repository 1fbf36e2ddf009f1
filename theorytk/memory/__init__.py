"""Memory of causal linear sequence operators: effective state size (ESS) and the COPY bound.

Operators as matrices :math:`y = T u` (:func:`diagonal_ssm`, :func:`lti_ssm`,
:func:`selective_ssm`, :func:`fir`, :func:`linear_attention`, :func:`softmax_attention`), the
tolerance- and entropy-ESS of every past-to-future block (:func:`ess`), the COPY task's exact
error (:func:`copy_error`, Monte-Carlo :func:`copy_error_samples`) and the constructions that
reach the Eckart-Young bound :math:`(L_c - n)/L_c` (``construction="copy"``). References:
R. N. Parnichkun et al., "Quantifying Memory Utilization with Effective State-Size", ICML 2025
(arXiv 2504.19561); R. Ren, Z. Li, Y. Liu, "Exploring the Limitations of Mamba in COPY and CoT
Reasoning" (arXiv 2410.03810). The theorems are in :mod:`proofs.memory_capacity`.
"""
from theorytk.memory.copy import copy_block, copy_error, copy_error_samples, copy_rounding_bound
from theorytk.memory.ess import ess, ess_from_singular_values, split_singular_values, splits
from theorytk.memory.operators import (FAMILIES, CausalOperator, diagonal_ssm, fir, linear_attention, lti_ssm,
                                       selective_ssm, softmax_attention)

__all__ = [
    "FAMILIES",
    "CausalOperator",
    "copy_block",
    "copy_error",
    "copy_error_samples",
    "copy_rounding_bound",
    "diagonal_ssm",
    "ess",
    "ess_from_singular_values",
    "fir",
    "linear_attention",
    "lti_ssm",
    "selective_ssm",
    "softmax_attention",
    "split_singular_values",
    "splits",
]
