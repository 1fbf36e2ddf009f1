"""Deep-feature instrumental-variable regression against kernel and sieve IV, on data that know their truth.

Data (:mod:`~theorytk.dfiv.data`): :func:`circle_iv` (Fourier-diagonal operator, ill-posedness
r = 2 alpha, exact projected and L2 risks), :func:`demand_design` (the DFIV authors'
version) and :func:`demand_design_hartford` (Hartford et al.'s scaled variant), :func:`zoo`.
Estimators with ``fit(stage1, stage2, ...)`` / ``predict(x)`` / ``predict_instrument(z)``:
:class:`DFIV` (Xu et al., ICLR 2021, arXiv 2010.07154), :class:`KernelIV` (Singh, Sahani,
Gretton, NeurIPS 2019; :class:`RandomFeatureKIV` for large n) and :class:`SieveIV` (Newey & Powell 2003). :func:`select` chooses
hyperparameters on validation data and reports an oracle choice separately. Theory:
Kim, Meunier, Gretton, Suzuki, Li, ICLR 2025 (arXiv 2501.04898); see ``proofs.dfiv_rates``.
"""
from theorytk.dfiv.data import (CircleIV, IVData, Sample, circle_embedding, circle_iv, demand_design,
                                demand_design_hartford, zoo)
from theorytk.dfiv.dfiv import DEMAND_SETTINGS, DFIV, TrainingDiverged, demand_dfiv
from theorytk.dfiv.kernel_iv import KernelIV, RandomFeatureKIV
from theorytk.dfiv.selection import Selection, select, validation_loss
from theorytk.dfiv.sieve import SieveIV

__all__ = [
    "DEMAND_SETTINGS", "DFIV", "CircleIV", "IVData", "KernelIV", "RandomFeatureKIV", "Sample", "Selection", "SieveIV", "TrainingDiverged",
    "circle_embedding", "circle_iv", "demand_design", "demand_design_hartford", "demand_dfiv", "select", "validation_loss", "zoo",
]
