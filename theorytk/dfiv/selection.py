r"""Choosing hyperparameters on validation data, and (labelled) oracle choices.

The reported estimator of every method is chosen by the **validation loss**
:math:`\frac1{m_v}\sum_i (y_i - \widehat{E}[\hat f(X)|Z = z_i])^2` on the held-out
``validation`` sample, where :math:`\widehat{E}[\cdot|Z]` is the method's own stage-1 fit
(DFIV's early-stopping criterion, Xu et al. 2021; it estimates
:math:`\|T(\hat f - f)\|^2` plus the noise variance). The **oracle** choice minimises the
true risk instead; it is what the rate theory assumes, and is always reported separately
and labelled as such, never as the method's result.
"""
from dataclasses import dataclass

import numpy as np

from theorytk.dfiv.data import Sample


def check_stages(stage1, stage2):
    """Raise ``TypeError``/``ValueError`` unless both stages are valid :class:`Sample` objects."""
    for name, s in (("stage1", stage1), ("stage2", stage2)):
        if not isinstance(s, Sample):
            raise TypeError(f"{name} must be a theorytk.dfiv.data.Sample, got {type(s).__name__}")
        for part in ("x", "z", "y"):
            a = getattr(s, part)
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name}.{part} must be finite, got {int(np.size(a) - np.isfinite(a).sum())} "
                                 "non-finite entries")
        if s.x.ndim != 2 or s.z.ndim != 2 or s.y.ndim != 1:
            raise ValueError(f"{name} needs x (n, d_x), z (n, d_z), y (n,), got {s.x.shape}, {s.z.shape}, {s.y.shape}")
        if s.size < 2:
            raise ValueError(f"{name} needs at least 2 rows, got {s.size}")
    if stage1.z.shape[1] != stage2.z.shape[1]:
        raise ValueError(f"stage1.z and stage2.z need the same columns, got {stage1.z.shape[1]} and {stage2.z.shape[1]}")


def validation_loss(model, sample):
    """Mean squared error of ``model.predict_instrument(z)`` against y on a held-out sample.

    A model with observed covariates (``model.covariates`` set, e.g. :class:`~theorytk.dfiv.DFIV`)
    also gets the sample's x, whose covariate columns it reads.
    """
    covariates = {"x": sample.x} if getattr(model, "covariates", None) is not None else {}
    return float(np.mean((sample.y - model.predict_instrument(sample.z, **covariates)) ** 2))


@dataclass(frozen=True)
class Selection:
    """The outcome of a grid search.

    Attributes
    ----------
    chosen : object
        The fitted model with the smallest validation loss (the reported estimator).
    chosen_setting : object
    oracle : object or None
        The fitted model with the smallest true risk (ORACLE: uses the truth; labelled).
    oracle_setting : object or None
    table : list of dict
        ``setting``, ``validation_loss`` and, when a risk was given, ``risk`` of every candidate.
    """

    chosen: object
    chosen_setting: object
    oracle: object
    oracle_setting: object
    table: list


def select(make, settings, data, risk=None):
    """Fit ``make(setting)`` on ``data.stage1``/``data.stage2`` for each setting; choose by validation loss.

    ``risk(model) -> float`` (e.g. ``data.l2_risk``) adds the oracle choice, reported separately.
    """
    settings = list(settings)
    if not settings:
        raise ValueError("settings must not be empty")
    models, table = [], []
    for setting in settings:
        model = make(setting).fit(data.stage1, data.stage2)
        row = {"setting": setting, "validation_loss": validation_loss(model, data.validation)}
        if risk is not None:
            row["risk"] = float(risk(model))
        models.append(model)
        table.append(row)
    best = int(np.argmin([r["validation_loss"] for r in table]))
    oracle = int(np.argmin([r["risk"] for r in table])) if risk is not None else None
    return Selection(models[best], settings[best], None if oracle is None else models[oracle],
                     None if oracle is None else settings[oracle], table)
