"""Implicit bias of a one-layer transformer on even pairs and parity: two phases, then the max margin.

Tasks that know their truth (:func:`even_pairs`, :func:`parity`: every string of length 1..L),
the one-layer model of our notes (:class:`OneLayerTransformer`: one-hot token + position
embedding, softmax attention from the last token, linear readout, logistic loss), full-batch GD
with a recorded trajectory in one numba kernel (:func:`train`, twin in :mod:`.reference`), the
exact hard-margin SVM on the model's features (:func:`max_margin`) and parity through chain of
thought at inference (:meth:`OneLayerTransformer.parity_by_cot`; CoT *training* is not
implemented). Reference: Huang, Liang, Yang, ICML 2025 (arXiv 2505.00926); the model is our
reading of it (see :mod:`.model`).
"""
from theorytk.implicit_bias.model import OneLayerTransformer
from theorytk.implicit_bias.svm import MaxMargin, NotSeparable, max_margin, separable
from theorytk.implicit_bias.tasks import LanguageTask, all_strings, even_pairs, parity
from theorytk.implicit_bias.train import TrainingDiverged, TrainingRun, train

__all__ = [
    "LanguageTask",
    "MaxMargin",
    "NotSeparable",
    "OneLayerTransformer",
    "TrainingDiverged",
    "TrainingRun",
    "all_strings",
    "even_pairs",
    "max_margin",
    "parity",
    "separable",
    "train",
]
