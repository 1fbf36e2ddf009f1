"""Implicit bias of a one-layer transformer on even pairs and parity: two phases, then the max margin.

Tasks that know their truth (:func:`even_pairs`, :func:`parity`: every string of length 1..L),
the one-layer model of our notes (:class:`OneLayerTransformer`: one-hot token + position
embedding, softmax attention from the last token, linear readout, logistic loss), full-batch GD
with a recorded trajectory in one numba kernel (:func:`train`, twin in :mod:`.reference`), the
exact hard-margin SVM on the model's features (:func:`max_margin`) and parity through chain of
thought: at inference with the even-pairs model (:meth:`OneLayerTransformer.parity_by_cot`, two-token
steps; :meth:`OneLayerTransformer.parity_by_truncated_cot`, the paper's truncated windows as a
third-party note states them) and by CoT training on :func:`parity_cot` (teacher-forced windows
plus the even-pairs regulariser). Reference: Huang, Liang, Yang, ICML 2025 (arXiv 2505.00926); the model is our
reading of it (see :mod:`.model`).
"""
from theorytk.implicit_bias.model import OneLayerTransformer
from theorytk.implicit_bias.svm import MaxMargin, NotSeparable, max_margin, separable
from theorytk.implicit_bias.tasks import LanguageTask, all_strings, cot_windows, even_pairs, parity, parity_cot
from theorytk.implicit_bias.train import TrainingDiverged, TrainingRun, train

__all__ = [
    "LanguageTask",
    "MaxMargin",
    "NotSeparable",
    "OneLayerTransformer",
    "TrainingDiverged",
    "TrainingRun",
    "all_strings",
    "cot_windows",
    "even_pairs",
    "max_margin",
    "parity",
    "parity_cot",
    "separable",
    "train",
]
