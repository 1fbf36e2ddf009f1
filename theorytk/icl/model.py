"""The one-layer linear self-attention model, its CoT construction and its training.

The layer acts on the embedding of :mod:`theorytk.icl._kernels` (rows x, y, w, 1; D = 2d+2):
``f(Z) = Z + V Z (Z^T W Z)/n`` read at the last column. A chain of thought of length k appends
each output column and reads the w-rows as the next iterate (Huang, Wang, Lee, ICLR 2025,
arXiv 2502.21212; the embedding and the 1/n normalisation as restated by Javanmard et al.,
arXiv 2603.01293, Sec. 3, whose exact form in the paper is unconfirmed).

The looped layer (:meth:`LinearSelfAttention.looped_error`, ``train(loss="looped")``) applies
the same layer K times to the query column, which each loop replaces instead of appending
(Yang, Lee, Nowak, Papailiopoulos, ICLR 2024, arXiv 2311.12424: one weight-tied block looped;
Gatmiry et al., ICML 2024: a looped linear layer in the preconditioned-GD parameterisation,
trained on the output after the last loop). ``params="preconditioner"`` trains only V31 with
W13 = I and W24 = -1 fixed, so that each loop is ``w <- w + V31 S (w - w*)``: preconditioned
GD with the matrix ``-V31`` (the translation of Gatmiry et al.'s restriction to this embedding).
With every entry trained (``params="all"``) the loops need not share one step: the products
V31 W13 and V31 W24 are free, so two loops reach any ``alpha S + beta S^2`` (derived here:
``w_1 = b S w*``, ``w_2 = (I - a S) w_1 + b S w*``, ``a = -V31 W13``, ``b = V31 W24``), which beats the
equal-step optimum (``proofs.icl_cot.LOOPED_POLYNOMIAL_K2``).
"""
from dataclasses import dataclass, field

import numpy as np

from theorytk import _validate
from theorytk.errors import TrainingDiverged
from theorytk.icl import _kernels
from theorytk.icl.exact import _check_prompts
from theorytk.random import generator, stream_seeds

LOSSES = {"cot": _kernels.COT, "no_cot": _kernels.NO_COT, "looped": _kernels.LOOPED,
          "looped_every": _kernels.LOOPED_EVERY}
PARAMS = ("all", "preconditioner")
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
        errors = _kernels.rollout(self.V, self.W, prompts.X, prompts.y, prompts.w_star, steps, teacher, False)
        _raise_on_blowup(errors)
        return errors

    def looped_error(self, prompts, loops):
        """||w_hat_t - w*||^2 per prompt after t = 1..loops applications of the layer, shape (batch, loops).

        Each loop replaces the query column by the layer's output at it (the context is the
        data columns and the current query). Raises :class:`TrainingDiverged` at a blow-up.
        """
        prompts = self._check(prompts)
        loops = _validate.integer("loops", loops, minimum=1)
        errors = _kernels.rollout(self.V, self.W, prompts.X, prompts.y, prompts.w_star, loops, 0.0, True)
        _raise_on_blowup(errors)
        return errors

    def loss(self, prompts, loss="cot", cot_steps=1, eta=1.0, loops=1):
        """The training loss and its gradients (``(loss, dV, dW)``) on the given prompts (see :func:`train`)."""
        prompts = self._check(prompts)
        mode = LOSSES[_validate.choice("loss", loss, tuple(LOSSES))]
        cot_steps = _validate.integer("cot_steps", cot_steps, minimum=1)
        loops = _validate.integer("loops", loops, minimum=1)
        eta = _validate.positive("eta", eta)
        if mode in (_kernels.LOOPED, _kernels.LOOPED_EVERY):
            return _kernels.looped_loss_and_gradients(self.V, self.W, prompts.X, prompts.y, prompts.w_star, loops,
                                                      mode == _kernels.LOOPED_EVERY)
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


def train(model, n, prompts_per_step, steps, seed, *, loss="cot", cot_steps=1, loops=1, eta=1.0, optimizer="adam",
          lr=2e-3, init_scale=0.01, scale=1.0, params="all"):
    """Train V and W on fresh prompts each step (the loop runs in one kernel).

    Parameters
    ----------
    model : LinearSelfAttention
        Gives d; an all-zero model is initialised (``params="all"``: N(0, init_scale^2)
        entries, zero is a saddle; ``"preconditioner"``: W13 = I, W24 = -1 and V31 with
        N(0, init_scale^2) entries, the rest 0), otherwise training starts from its V, W.
    n : int
        Pairs per prompt, >= 1.
    prompts_per_step, steps : int
        Each >= 1.
    seed : int or numpy.random.SeedSequence
    loss : {"cot", "no_cot", "looped", "looped_every"}
        ``"cot"``: (1/2) sum_{i<k} ||f(Z_i) - [0; 0; w_{i+1}; 1]||^2 with teacher forcing,
        targets the GD iterates with step ``eta``; ``"no_cot"``: (1/2)||w_hat_1 - w*||^2;
        ``"looped"``: (1/2)||w_hat_K - w*||^2 after K = ``loops`` applications of the layer
        (the final output only); ``"looped_every"``: sum_{t<=K} (1/2)||w_hat_t - w*||^2.
    cot_steps : int
        k, the CoT length (``"cot"`` only).
    loops : int
        K, the number of loops (``"looped"``, ``"looped_every"`` only).
    eta : float
        Step of the GD targets, > 0.
    optimizer : {"adam", "gd"}
    lr : float
        Learning rate, > 0.
    init_scale : float
        > 0.
    scale : float
        x ~ N(0, scale^2 I) in training.
    params : {"all", "preconditioner"}
        Which entries are trained: all of V and W, or only V31 (W13 = I, W24 = -1 and the rest
        stay as initialised; each loop or step is then preconditioned GD with ``-V31``).

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
    loops = _validate.integer("loops", loops, minimum=1)
    eta = _validate.positive("eta", eta)
    params = _validate.choice("params", params, PARAMS)
    opt = OPTIMIZERS[_validate.choice("optimizer", optimizer, tuple(OPTIMIZERS))]
    lr = _validate.positive("lr", lr)
    init_scale = _validate.positive("init_scale", init_scale)
    scale = _validate.positive("scale", scale)
    seed = _validate.seed("seed", seed)
    d, blk = model.d, blocks(model.d)
    V, W = np.array(model.V), np.array(model.W)
    mask_V, mask_W = np.ones_like(V), np.ones_like(W)
    if params == "preconditioner":
        mask_V[:], mask_W[:] = 0.0, 0.0
        mask_V[blk["w"], blk["x"]] = 1.0
    if not V.any() and not W.any():
        rng = generator(seed)
        if params == "all":
            V, W = init_scale * rng.standard_normal(V.shape), init_scale * rng.standard_normal(W.shape)
        else:
            construction = LinearSelfAttention.gradient_descent(d, 1.0)    # W13 = I, W24 = -1
            V, W = np.zeros_like(V), np.array(construction.W)
            V[blk["w"], blk["x"]] = init_scale * rng.standard_normal((d, d))
    step_seeds = stream_seeds(seed, steps)
    losses = np.full(steps, np.nan)
    k = loops if mode in (_kernels.LOOPED, _kernels.LOOPED_EVERY) else cot_steps
    failed = _kernels.train(V, W, mask_V, mask_W, d, n, batch, step_seeds, k, eta, mode, opt, lr, scale, losses)
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
