"""The one base class of every solver failure.

A solver that cannot deliver a trustworthy answer raises a subclass of
:class:`SolverFailure` with the step (or iteration) where it failed and a hint:
``theorytk.mfld.SimulationDiverged`` and ``OptimumNotConverged``,
:class:`TrainingDiverged` (here; re-exported by ``theorytk.dfiv``, ``icl``, ``implicit_bias``
and ``reversal``), ``theorytk.alignment.SamplerDiverged``, ``theorytk.metastable.WalkersCensored``
and ``FinetuneDiverged``, ``theorytk.contrastive.MinimiserDiverged``. Catch ``SolverFailure`` to handle them all; the
validation harness reports them with exit status 3 (the run failed), never 1 (a claim
failed) or 2 (bad usage).

:class:`NotFitted` is not a solver failure: it is bad usage (a method called before ``fit``).
"""

__all__ = ["NotFitted", "SolverFailure", "TrainingDiverged"]


class SolverFailure(RuntimeError):
    """A solver failed (diverged, did not converge, or censored its samples); the message says where and why."""


class TrainingDiverged(SolverFailure, FloatingPointError):
    """Gradient training blew up (a parameter or the loss non-finite or beyond the solver's bound); the message
    gives the step or epoch, the step size in use and a remedy.

    One class for every trained model (``theorytk.dfiv``, ``icl``, ``implicit_bias``, ``reversal``
    re-export it), so ``except TrainingDiverged`` catches them all.
    """


class NotFitted(ValueError, AttributeError):
    """A fitted model's method (``predict``, ...) was called before ``fit``; the message says which call to make.

    A ``ValueError`` (a call the object's state does not allow) and an ``AttributeError`` (the
    fitted attributes are missing), as scikit-learn's ``NotFittedError``.
    """
