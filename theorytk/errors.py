"""The one base class of every solver failure.

A solver that cannot deliver a trustworthy answer raises a subclass of
:class:`SolverFailure` with the step (or iteration) where it failed and a hint:
``theorytk.mfld.SimulationDiverged`` and ``OptimumNotConverged``,
``theorytk.dfiv.TrainingDiverged``, ``theorytk.alignment.SamplerDiverged``,
``theorytk.metastable.WalkersCensored`` and ``FinetuneDiverged``, ``theorytk.icl.TrainingDiverged``,
``theorytk.contrastive.MinimiserDiverged``. Catch ``SolverFailure`` to handle them all; the
validation harness reports them with exit status 3 (the run failed), never 1 (a claim
failed) or 2 (bad usage).

:class:`NotFitted` is not a solver failure: it is bad usage (a method called before ``fit``).
"""

__all__ = ["NotFitted", "SolverFailure"]


class SolverFailure(RuntimeError):
    """A solver failed (diverged, did not converge, or censored its samples); the message says where and why."""


class NotFitted(ValueError, AttributeError):
    """A fitted model's method (``predict``, ...) was called before ``fit``; the message says which call to make.

    A ``ValueError`` (a call the object's state does not allow) and an ``AttributeError`` (the
    fitted attributes are missing), as scikit-learn's ``NotFittedError``.
    """
