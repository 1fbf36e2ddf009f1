r"""The reversal curse and intransitivity in the bilinear next-token model.

Entity tasks that know their truth (:func:`entity_pairs`: every :math:`A_i \to B_i` trained, a
share also :math:`B_i \to A_i`, the rest held out; :func:`entity_chains`: :math:`A \to B`,
:math:`B \to C` trained, :math:`A \to C` tested), with one-hot or Gaussian embeddings; the
bilinear model :math:`z_y(x) = e_y^\top \Theta e_x` (:class:`BilinearModel`, optionally tied
symmetric) trained by full-batch GD with its trajectory recorded (:func:`train_bilinear`);
reverse probabilities and the reverse-loss exponent on the result (:class:`BilinearFit`).
Reference: Zhu et al., NeurIPS 2024, arXiv 2405.04669. The theorems are in
:mod:`proofs.reversal_curse`.
"""
from theorytk.reversal.data import EMBEDDINGS, EntityTask, entity_chains, entity_pairs
from theorytk.reversal.model import BilinearFit, BilinearModel, TrainingDiverged, train_bilinear

__all__ = ["EMBEDDINGS", "BilinearFit", "BilinearModel", "EntityTask", "TrainingDiverged", "entity_chains",
           "entity_pairs", "train_bilinear"]
