"""The one-layer linear self-attention model, its CoT construction and its training.

The layer acts on the embedding of :mod:`theorytk.icl._kernels` (rows x, y, w, 1; D = 2d+2):
``f(Z) = Z + V Z (Z^T W Z)/n`` read at the last column. A chain of thought of length k appends
each output column and reads the w-rows as the next iterate (Huang, Wang, Lee, ICLR 2025,
arXiv 2502.21212; the embedding and the 1/n normalisation as restated by Javanmard et al.,
arXiv 2603.01293, Sec. 3, whose exact form in the paper is unconfirmed).
"""
from dataclasses import dataclass, field

import numpy as np

from theorytk import _validate
from theorytk.errors import TrainingDiverged
from theorytk.icl import _kernels
from theorytk.icl.exact import _check_prompts
from theorytk.random import generator, stream_seeds

LOSSES = {"cot": _kernels.COT, "no_cot": _kernels.NO_COT}
OPTIMIZERS = {"adam": _kernels.ADAM, "gd": _kernels.GD}


LOSS_GROWTH = 1e6
"""Training has diverged once its loss exceeds this factor times ``max(first loss, 1)`` (the
first loss is that of the initial model, in units where the targets are O(1))."""



def blocks(d):
    """Row/column slices of the embedding: ``{"x", "y", "w", "one"}``."""
    return {"x": slice(0, d), "y": slice(d, d + 1), "w": slice(d + 1, 2 * d + 1), "one": slice(2 * d + 1, 2 * d + 2)}


@dataclass(frozen=True, eq=False)
class LinearSelfAttention:
    """One LSA layer with parameters V, W (each D x D, D = 2d + 2).

    Parameters
    ----------
    d : int
        Input dimension, >= 1.
    V, W : array_like, optional
        Default: zeros (then :func:`train` draws its own initialisation).
    """

    d: int
    V: np.ndarray = field(default=None)
    W: np.ndarray = field(default=None)

    def __post_init__(self):
        d = _validate.integer("d", self.d, minimum=1)
        D = 2 * d + 2
        object.__setattr__(self, "d", d)
        for name in ("V", "W"):
            value = getattr(self, name)
            value = np.zeros((D, D)) if value is None else _validate.array(name, value, shape=(D, D))
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @classmethod
    def gradient_descent(cls, d, eta):
        """The CoT construction V31 = -eta I, W13 = I, W24 = -1: each column is one GD step."""
        d = _validate.integer("d", d, minimum=1)
        eta = _validate.positive("eta", eta)
        D, blk = 2 * d + 2, blocks(d)
        V, W = np.zeros((D, D)), np.zeros((D, D))
        V[blk["w"], blk["x"]] = -eta * np.eye(d)
        W[blk["x"], blk["w"]] = np.eye(d)
        W[blk["y"], blk["one"]] = -1.0
        return cls(d, V, W)

    def block(self, matrix, rows, cols):
        """A block of V or W by embedding names, e.g. ``block("V", "w", "x")`` = V31."""
        blk = blocks(self.d)
        return getattr(self, _validate.choice("matrix", matrix, ("V", "W")))[blk[rows], blk[cols]]

    def _check(self, prompts):
        prompts = _check_prompts(prompts)
        if prompts.d != self.d:
            raise ValueError(f"prompts have d = {prompts.d}, the model has d = {self.d}")
        return prompts

    def rollout_error(self, prompts, steps, teacher_eta=None):
        """||w_hat_i - w*||^2 per prompt, i = 1..steps, shape (batch, steps).

        Autoregressive by default: each output column is fed back. ``teacher_eta`` feeds the
        gradient-descent iterate with that step instead (teacher forcing, the CoT loss's
        evaluation). Raises :class:`TrainingDiverged` with the first step that blew up.
        """
        prompts = self._check(prompts)
        steps = _validate.integer("steps", steps, minimum=1)
        teacher = 0.0 if teacher_eta is None else _validate.positive("teacher_eta", teacher_eta)
        errors = _kernels.rollout(self.V, self.W, prompts.X, prompts.y, prompts.w_star, steps, teacher)
        _raise_on_blowup(errors)
        return errors

    def loss(self, prompts, loss="cot", cot_steps=1, eta=1.0):
        """The training loss and its gradients (``(loss, dV, dW)``) on the given prompts."""
        prompts = self._check(prompts)
        mode = LOSSES[_validate.choice("loss", loss, tuple(LOSSES))]
        cot_steps = _validate.integer("cot_steps", cot_steps, minimum=1)
        eta = _validate.positive("eta", eta)
        return _kernels.loss_and_gradients(self.V, self.W, prompts.X, prompts.y, prompts.w_star, eta, cot_steps, mode)


def _raise_on_blowup(errors):
    dead = np.isnan(errors)
    if dead.any():
        step = int(np.argmax(dead.any(axis=0))) + 1
        raise TrainingDiverged(f"the rollout blew up at step {step} in {int(dead.any(axis=1).sum())} of "
                               f"{errors.shape[0]} prompts; hint: eta above 2/lambda_max(S) diverges; use eta <= "
                               f"1/(1 + sqrt(d/n))^2 (theorytk.icl.edge_step) or fewer steps")


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained model and its loss per step (before each update)."""

    model: LinearSelfAttention
    losses: np.ndarray


def train(model, n, prompts_per_step, steps, seed, *, loss="cot", cot_steps=1, eta=1.0, optimizer="adam",
          lr=2e-3, init_scale=0.01, scale=1.0):
    """Train every entry of V and W on fresh prompts each step (the loop runs in one kernel).

    Parameters
    ----------
    model : LinearSelfAttention
        Gives d; an all-zero model is initialised with N(0, init_scale^2) entries (zero is a
        saddle), otherwise training starts from its V, W.
    n : int
        Pairs per prompt, >= 1.
    prompts_per_step, steps : int
        Each >= 1.
    seed : int or numpy.random.SeedSequence
    loss : {"cot", "no_cot"}
        ``"cot"``: (1/2) sum_{i<k} ||f(Z_i) - [0; 0; w_{i+1}; 1]||^2 with teacher forcing,
        targets the GD iterates with step ``eta``; ``"no_cot"``: (1/2)||w_hat_1 - w*||^2.
    cot_steps : int
        k, the CoT length (``"cot"`` only).
    eta : float
        Step of the GD targets, > 0.
    optimizer : {"adam", "gd"}
    lr : float
        Learning rate, > 0.
    init_scale : float
        > 0.
    scale : float
        x ~ N(0, scale^2 I) in training.

    Returns
    -------
    TrainingResult

    Raises
    ------
    TrainingDiverged
        With the step at which the loss blew up (non-finite or above 1e100, or more than
        :data:`LOSS_GROWTH` times ``max(first loss, 1)``; e.g. Adam at lr 1e8 drives it from 1
        to 1e31), or the last update made an entry of V or W non-finite or above 1e100, and a hint.
    """
    if not isinstance(model, LinearSelfAttention):
        raise TypeError(f"model must be LinearSelfAttention, got {type(model).__name__}")
    n = _validate.integer("n", n, minimum=1)
    batch = _validate.integer("prompts_per_step", prompts_per_step, minimum=1)
    steps = _validate.integer("steps", steps, minimum=1)
    mode = LOSSES[_validate.choice("loss", loss, tuple(LOSSES))]
    cot_steps = _validate.integer("cot_steps", cot_steps, minimum=1)
    eta = _validate.positive("eta", eta)
    opt = OPTIMIZERS[_validate.choice("optimizer", optimizer, tuple(OPTIMIZERS))]
    lr = _validate.positive("lr", lr)
    init_scale = _validate.positive("init_scale", init_scale)
    scale = _validate.positive("scale", scale)
    seed = _validate.seed("seed", seed)
    V, W = np.array(model.V), np.array(model.W)
    if not V.any() and not W.any():
        rng = generator(seed)
        V, W = init_scale * rng.standard_normal(V.shape), init_scale * rng.standard_normal(W.shape)
    step_seeds = stream_seeds(seed, steps)
    losses = np.full(steps, np.nan)
    failed = _kernels.train(V, W, model.d, n, batch, step_seeds, cot_steps, eta, mode, opt, lr, scale, losses)
    hint = f"hint: lower lr (got {lr}) or eta (got {eta}; eta <= 1/(1 + sqrt(d/n))^2 is safe)"
    if failed < 0:  # the kernel stops at a non-finite or > 1e100 loss; also catch growth and a last bad update
        grown = np.flatnonzero(losses > LOSS_GROWTH * max(losses[0], 1.0))
        failed = int(grown[0]) if grown.size else -1
    if failed >= 0:
        raise TrainingDiverged(f"the training loss blew up at step {failed} (loss {float(losses[failed]):.6g}, first "
                               f"loss {float(losses[0]):.6g}); {hint}")
    if not (np.all(np.abs(V) <= _kernels.BLOWUP) and np.all(np.abs(W) <= _kernels.BLOWUP)):
        raise TrainingDiverged(f"the last update (step {steps - 1}) made an entry of V or W non-finite or larger "
                               f"than {_kernels.BLOWUP:g}; {hint}")
    return TrainingResult(LinearSelfAttention(model.d, V, W), losses)
