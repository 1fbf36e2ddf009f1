"""In-context linear regression by linear self-attention: CoT = multi-step GD, Newton-Schulz.

Prompts that know their truth (:func:`regression_prompts`), the one-layer LSA with the
paper's embedding (:class:`LinearSelfAttention`), its training on the CoT loss (teacher
forcing) or the no-CoT loss (:func:`train`, the whole loop in one numba kernel), the
autoregressive rollout, the looped layer (the same layer applied K times, trained on its
final output: ``train(loss="looped")``, :meth:`LinearSelfAttention.looped_error`), prompts
with a general covariance (out of distribution), exact references (:func:`gd_rollout_error`, :func:`one_step_floor`,
:func:`cot_error`) and the looped Newton-Schulz layer (:func:`newton_schulz`). References:
Huang, Wang, Lee, ICLR 2025 (arXiv 2502.21212); Giannou et al., AISTATS 2025 (arXiv 2403.03183).
"""
from theorytk.icl.exact import (conditional_gd_error, cot_error, edge_step, gd_rollout_error, one_step_floor,
                               wishart_moments)
from theorytk.icl.model import LinearSelfAttention, TrainingDiverged, TrainingResult, blocks, train
from theorytk.icl.newton_schulz import initial_guess, iterations_needed, newton_schulz, ns_layer
from theorytk.icl.prompts import RegressionPrompts, regression_prompts

__all__ = [
    "LinearSelfAttention",
    "RegressionPrompts",
    "TrainingDiverged",
    "TrainingResult",
    "blocks",
    "conditional_gd_error",
    "cot_error",
    "edge_step",
    "gd_rollout_error",
    "initial_guess",
    "iterations_needed",
    "newton_schulz",
    "ns_layer",
    "one_step_floor",
    "regression_prompts",
    "train",
    "wishart_moments",
]
