"""Ensembles of M independent N-particle networks.

The ensemble predictor averages M independently trained networks,
:math:`\\bar f_M = \\frac1M \\sum_{m=1}^M f_{X^{(m)}}`. Since the members are i.i.d.
(derived here, a bias-variance split),

.. math::

    \\mathbb{E}\\|\\bar f_M - f_*\\|_n^2 = \\|\\mathbb{E} f_X - f_*\\|_n^2
    + \\frac{\\mathbb{E}\\|f_X - f_*\\|_n^2 - \\|\\mathbb{E} f_X - f_*\\|_n^2}{M},

so an ensemble of M width-N networks behaves like one width-NM network as long as the bias
of a single width-N network is negligible: the model-ensemble claim of Nitanda et al.
(ICML 2025, arXiv 2502.05784).
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.mfld.langevin import SimulationResult, check_sizes, simulate, time_average_error


@dataclass(frozen=True, eq=False)
class EnsembleResult:
    """Result of :func:`simulate_ensemble`.

    Attributes
    ----------
    members : int
        M, networks per ensemble.
    runs : SimulationResult
        All ``replicas * members`` networks; network m of ensemble r is replica ``r * M + m``.
    outputs : ndarray, shape (replicas, S, n)
        The ensemble predictor :math:`\\bar f_M(z_j)` at the recorded times.
    """

    members: int
    runs: SimulationResult
    outputs: np.ndarray

    @property
    def times(self):
        return self.runs.times

    def squared_error(self, f_star, burn_in=0.0):
        """Time average of :math:`\\|\\bar f_M - f_*\\|_n^2` per ensemble, shape (replicas,)."""
        return time_average_error(self.outputs, self.times, f_star, burn_in)


def simulate_ensemble(problem, n_particles, members, steps, eta, replicas=1, seed=0, **options):
    """Simulate ``replicas`` independent ensembles of ``members`` networks of width ``n_particles``.

    Other keyword arguments go to :func:`theorytk.mfld.simulate`. The networks are the
    replicas of one :func:`simulate` call, so every network has its own noise stream; sizes
    whose arrays would exceed the machine's memory are refused before allocating
    (:func:`~theorytk.mfld.langevin.check_sizes`, naming ``replicas * members``).
    """
    members = _validate.integer("members", members, minimum=1)
    replicas = _validate.integer("replicas", replicas, minimum=1)
    check_sizes(problem, n_particles, steps, replicas * members, options.get("record_every"),
                replicas_name="replicas * members")
    runs = simulate(problem, n_particles, steps, eta, replicas=replicas * members, seed=seed, **options)
    outputs = runs.outputs.reshape(replicas, members, *runs.outputs.shape[1:]).mean(axis=1)
    return EnsembleResult(members, runs, outputs)
