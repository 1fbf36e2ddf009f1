r"""The bilinear next-token model of the reversal curse, trained by full-batch gradient descent.

Model (Zhu, Huang, Zhang, Jordan, Jiao, Tian, Russell, *Towards a Theoretical Understanding of
the 'Reversal Curse' via Training Dynamics*, NeurIPS 2024, arXiv 2405.04669, §3 as restated in
secondary sources; the exact parameterisation is unconfirmed): the logit of the next entity
:math:`y` after :math:`x` is bilinear in their embeddings,

.. math::

    z_y(x) = e_y^\top \Theta e_x, \qquad p_\Theta(y \mid x) = \mathrm{softmax}_y\, z(x),

with :math:`\Theta_0 = 0` and the mean cross-entropy :math:`L(\Theta)` over the training pairs,
minimised by GD :math:`\Theta_{t+1} = \Theta_t - \eta \nabla L(\Theta_t)` (gradient flow is its
small-:math:`\eta` limit: shrink ``lr`` and raise ``steps``). ``symmetric=True`` is the tied
model :math:`\Theta = \Theta^\top` (GD with the gradient projected onto symmetric matrices): its
reverse logit :math:`z_A(B) = z_B(A)` equals the forward one, so it cannot show the curse; it
is the notes' negative control.

GD runs exactly on coefficients :math:`\Theta_t = E^\top W_t X^\top` (see
:mod:`theorytk.reversal._kernels`), so its cost does not grow with ``d``.

The one-layer transformer variant of the paper (§4, "the framework of Tian et al. 2023") is not
built: its assumptions could not be pinned. The paper's full text was not reachable, and the
authors' code (marlo-z/reversal_curse_analysis) holds only multi-layer GPT-2 experiments (see
:mod:`proofs.reversal_curse` for what was searched).
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.errors import TrainingDiverged
from theorytk.reversal import _kernels, reference
from theorytk.reversal.data import EntityTask

__all__ = ["BilinearFit", "BilinearModel", "TrainingDiverged", "train_bilinear"]

IMPLEMENTATIONS = ("numba", "numpy")



@dataclass(frozen=True, eq=False)
class BilinearModel:
    """The bilinear model on an :class:`~theorytk.reversal.data.EntityTask`.

    Parameters
    ----------
    task : EntityTask
        From :func:`~theorytk.reversal.entity_pairs` or :func:`~theorytk.reversal.entity_chains`.
    symmetric : bool, default False
        Tie :math:`\\Theta = \\Theta^\\top` (the negative control that breaks the curse).
    """

    task: EntityTask
    symmetric: bool = False

    def __post_init__(self):
        if not isinstance(self.task, EntityTask):
            raise TypeError(f"task must be an EntityTask (entity_pairs or entity_chains), got "
                            f"{type(self.task).__name__}")
        if not isinstance(self.symmetric, bool | np.bool_):
            raise TypeError(f"symmetric must be a bool, got {self.symmetric!r} of type {type(self.symmetric).__name__}")
        object.__setattr__(self, "symmetric", bool(self.symmetric))


@dataclass(frozen=True, eq=False)
class BilinearFit:
    r"""A GD trajectory of the bilinear model.

    Attributes
    ----------
    model : BilinearModel
    lr : float
    loss : ndarray, shape (T + 1,)
        Training loss :math:`L_t` at every state :math:`t = 0..T` (``T`` = :attr:`final_step`).
    steps : ndarray of int64, shape (R,)
        The recorded states (the requested ones up to ``T``, and ``T``).
    probes : ndarray of int64, shape (Q,)
        Entities whose logits were recorded (every input of the training and test pairs).
    logits : ndarray, shape (R, Q, M)
        ``logits[r, q, j]`` = :math:`z_j(\text{probes}[q])` at state ``steps[r]``.
    coefficients : ndarray, shape (M, N)
        Final :math:`W` with :math:`\Theta = E^\top W X^\top` (symmetrised if tied).
    """

    model: BilinearModel
    lr: float
    loss: np.ndarray
    steps: np.ndarray
    probes: np.ndarray
    logits: np.ndarray
    coefficients: np.ndarray

    @property
    def final_step(self):
        """The last state ``T`` (where the loss first reached ``until_loss``, or ``steps``)."""
        return int(self.steps[-1])

    @property
    def theta(self):
        r""":math:`\Theta_T`, shape (d, d)."""
        task = self.model.task
        return reference.theta(task.embeddings, task.inputs, self.coefficients, self.model.symmetric)

    def _rows(self, inputs):
        return np.searchsorted(self.probes, inputs)

    def pair_logits(self, name):
        """Logits :math:`z_y(x)` of the test pairs ``name``, shape (R, pairs)."""
        inputs, targets = self.model.task.pairs(name)
        return self.logits[:, self._rows(inputs), targets]

    def log_probabilities(self, name):
        r""":math:`\log p(y \mid x)` of the test pairs ``name`` at each recorded state, shape (R, pairs)."""
        inputs, targets = self.model.task.pairs(name)
        z = self.logits[:, self._rows(inputs), :]
        top = z.max(axis=2, keepdims=True)
        lse = top[..., 0] + np.log(np.exp(z - top).sum(axis=2))
        return z[:, np.arange(inputs.size), targets] - lse

    def probabilities(self, name):
        r""":math:`p(y \mid x)` of the test pairs ``name`` at each recorded state, shape (R, pairs)."""
        return np.exp(self.log_probabilities(name))

    def test_loss(self, name):
        """Mean cross-entropy of the test pairs ``name`` at each recorded state, shape (R,)."""
        return -self.log_probabilities(name).mean(axis=1)

    def train_loss(self):
        """:math:`L_t` at the recorded states, shape (R,)."""
        return self.loss[self.steps]

    def _reverse(self):
        if self.model.task.kind != "pairs" or self.model.task.pairs("reverse")[0].size == 0:
            raise ValueError("the task has no reverse-untrained pairs (it needs entity_pairs with both_directions < 1)")
        return "reverse"

    def reverse_probability(self):
        r"""Mean :math:`p(A_i \mid B_i)` over the reverse-untrained pairs at the final state."""
        return float(self.probabilities(self._reverse())[-1].mean())

    def reverse_exponents(self):
        r""":math:`\log(L_{rev,t}/L_{rev,0}) / \log(L_t/L_0)` at each recorded state (NaN where :math:`L_t = L_0`)."""
        rev = self.test_loss(self._reverse())
        train = self.train_loss()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(rev / rev[0]) / np.log(train / train[0])
        return np.where(train < train[0], out, np.nan)

    def reverse_exponent(self):
        r"""The reverse-loss exponent :math:`\varepsilon_{emp} = \log(L_{rev,T}/L_{rev,0})/\log(L_T/L_0)` at the end."""
        return float(self.reverse_exponents()[-1])


def _record(record, steps):
    if record is None:
        return np.unique(np.r_[0, np.geomspace(1, max(steps, 1), 40).astype(np.int64)])
    values = _validate.array("record", record, ndim=1, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError(f"record must hold step numbers >= 0, got minimum {values.min()}")
    return np.unique(values)


def train_bilinear(model, *, lr=1.0, steps=10_000, until_loss=None, record=None, implementation="numba"):
    r"""Full-batch GD on the mean cross-entropy from :math:`\Theta_0 = 0`.

    Parameters
    ----------
    model : BilinearModel
    lr : float, default 1.0
        Step size :math:`\eta > 0` on the mean loss.
    steps : int, default 10_000
        Most GD steps.
    until_loss : float, optional
        Stop at the first state with :math:`L_t \le` ``until_loss`` (> 0).
    record : array_like of int, optional
        States whose probe logits are kept (default 0 and 40 log-spaced steps); the final
        state is always kept.
    implementation : {"numba", "numpy"}
        The compiled kernel or its NumPy twin (same results to rounding).

    Returns
    -------
    BilinearFit

    Raises
    ------
    TrainingDiverged
        If the training loss exceeds ``1e300`` or is not finite (with the step and the learning rate). A
        huge but finite step is no divergence on separable pairs: the margins grow and the loss falls.
    """
    if not isinstance(model, BilinearModel):
        raise TypeError(f"model must be a BilinearModel, got {type(model).__name__}")
    lr = _validate.positive("lr", lr)
    steps = _validate.integer("steps", steps, minimum=0)
    stop = -np.inf if until_loss is None else _validate.positive("until_loss", until_loss)
    record = _record(record, steps)
    _validate.choice("implementation", implementation, IMPLEMENTATIONS)
    task = model.task
    K = task.gram()
    probes = np.unique(np.concatenate([task.inputs, *(inputs for inputs, _ in task.tests.values())]))
    W = np.zeros((task.M, task.N))
    args = (K, task.inputs, task.targets)
    if implementation == "numba":
        loss = np.full(steps + 1, np.nan)
        logits = np.empty((record.size + 1, probes.size, task.M))
        recorded = np.empty(record.size + 1, dtype=np.int64)
        final, written = _kernels.gd(*args, W, lr, steps, stop, model.symmetric, record, probes, loss, logits, recorded)
        loss, logits, recorded = loss[:final + 1], logits[:written], recorded[:written]
    else:
        W, loss, logits, recorded = reference.gd(*args, W, lr, steps, stop, model.symmetric, record, probes)
    if not abs(loss[-1]) <= _kernels.BLOWUP:
        raise TrainingDiverged(f"the training loss became {loss[-1]:.3g} (beyond {_kernels.BLOWUP:g} or not finite) at "
                               f"step {loss.size - 1} with lr = {lr:g}; lower lr (the loss was {loss[0]:.3g} at step 0)")
    return BilinearFit(model, lr, loss, recorded, probes, logits, W)
