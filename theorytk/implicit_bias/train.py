r"""Full-batch gradient descent on the one-layer transformer, with a trajectory at chosen steps.

One numba kernel runs the whole loop (:func:`theorytk.implicit_bias._kernels.train`); the
trajectory records, after each requested number of updates t, :math:`\|W_t\|_F`, :math:`\|u_t\|`,
the loss :math:`L_t`, the training accuracy, :math:`u_t` and the attention outputs
:math:`h_t` of every string. The implicit-bias quantities of the notes are methods of the
result: :meth:`TrainingRun.cosine_to` (:math:`\cos(u_t, \hat w)`), :meth:`TrainingRun.log_slope`
(:math:`d\|u\|/d\log t`, predicted :math:`\to \|\hat w\|`) and :meth:`TrainingRun.eta_t_loss`
(:math:`\eta t L_t`, predicted :math:`\to \|\hat w\|^2`).
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.errors import TrainingDiverged
from theorytk.implicit_bias import _kernels
from theorytk.implicit_bias.model import OneLayerTransformer
from theorytk.random import generator

__all__ = ["TrainingDiverged", "TrainingRun", "train"]

INIT_SCALE = 0.01
"""Standard deviation of the default initialisation N(0, 0.01^2) of W and u ((W, u) = 0 is a saddle)."""



@dataclass(frozen=True, eq=False)
class TrainingRun:
    """A GD trajectory of :class:`~theorytk.implicit_bias.OneLayerTransformer`.

    Attributes
    ----------
    model : OneLayerTransformer
        The trained model (final W, u).
    initial : OneLayerTransformer
        The model at step 0.
    eta : float
    steps : numpy.ndarray of int64, shape (R,)
        The recorded steps t (numbers of updates), increasing.
    norms : numpy.ndarray, shape (R, 2)
        Columns :math:`\\|W_t\\|_F` and :math:`\\|u_t\\|`.
    loss, accuracy : numpy.ndarray, shape (R,)
    u : numpy.ndarray, shape (R, D)
    features : numpy.ndarray, shape (R, N, D)
        Attention outputs :math:`h_t` of every string; ``features[-1]`` is the last record.
    labels : numpy.ndarray, shape (N,)
    """

    model: OneLayerTransformer
    initial: OneLayerTransformer
    eta: float
    steps: np.ndarray
    norms: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    u: np.ndarray
    features: np.ndarray
    labels: np.ndarray

    def cosine_to(self, direction):
        """:math:`\\cos(u_t, d)` at every record (R,); ``direction`` of shape (D,) and non-zero."""
        d = _validate.array("direction", direction, shape=(self.u.shape[1],))
        scale = np.linalg.norm(d)
        if scale == 0:
            raise ValueError("direction must be non-zero")
        return self.u @ d / (np.linalg.norm(self.u, axis=1) * scale)

    def log_slope(self, start=None, stop=None):
        """Least-squares slope of :math:`\\|u_t\\|` against :math:`\\log t` over the records with start <= t <= stop.

        Default: the last decade, ``[t_max / 10, t_max]``. Needs at least two records with t >= 1 there.
        """
        t_max = float(self.steps[-1])
        start = t_max / 10 if start is None else _validate.positive("start", start)
        stop = t_max if stop is None else _validate.positive("stop", stop)
        keep = (self.steps >= max(start, 1)) & (self.steps <= stop)
        if np.count_nonzero(keep) < 2:
            raise ValueError(f"log_slope needs >= 2 records in [{start:g}, {stop:g}] (t >= 1), got "
                             f"{int(np.count_nonzero(keep))}; record more steps there")
        return float(np.polyfit(np.log(self.steps[keep]), self.norms[keep, 1], 1)[0])

    def eta_t_loss(self):
        """:math:`\\eta\\, t\\, L_t` at every record (R,)."""
        return self.eta * self.steps * self.loss


def _record_steps(record, steps):
    r = _validate.array("record", record, ndim=1)
    if r.size == 0:
        raise ValueError("record must hold at least one step")
    if np.any(r < 0) or np.any(r > steps):
        raise ValueError(f"record must lie in [0, steps={steps}], got values in [{r.min():g}, {r.max():g}]")
    return np.unique(np.rint(r).astype(np.int64))


def train(model, task, *, eta, steps, record, seed=0, train_attention=True, init_scale=INIT_SCALE):
    """Full-batch GD of ``model`` on every string of ``task``, recording the trajectory.

    Parameters
    ----------
    model : OneLayerTransformer
        Its W, u are the starting point; if they are ``None``, W and u are drawn i.i.d.
        N(0, ``init_scale``^2) from ``seed``.
    task : LanguageTask
        E.g. ``even_pairs(6)``; ``task.max_length <= model.length``.
    eta : float
        Step size, > 0.
    steps : int
        Number of GD updates, >= 1.
    record : array_like of float
        Steps t in [0, steps] to record (rounded to integers; repeats merged), e.g.
        ``np.geomspace(1, steps, 60)``.
    seed : int or numpy.random.SeedSequence
        Seed of the initialisation (unused when the model has W and u).
    train_attention : bool
        False freezes W at its initial value (only u is trained).
    init_scale : float
        Standard deviation of the random initialisation, > 0.

    Returns
    -------
    TrainingRun

    Raises
    ------
    TrainingDiverged
        If the loss or a parameter leaves [-1e300, 1e300] (too large a step).
    """
    if not isinstance(model, OneLayerTransformer):
        raise TypeError(f"model must be a OneLayerTransformer, got {type(model).__name__}")
    task = model.check_task(task)
    eta = _validate.positive("eta", eta)
    steps = _validate.integer("steps", steps, minimum=1)
    record = _record_steps(record, steps)
    seed = _validate.seed("seed", seed)
    if not isinstance(train_attention, bool | np.bool_):
        raise TypeError(f"train_attention must be a bool, got {train_attention!r}")
    init_scale = _validate.positive("init_scale", init_scale)
    D = model.dim
    if model.initialised:
        W, u = np.array(model.W), np.array(model.u)
    else:
        rng = generator(seed)
        W, u = init_scale * rng.standard_normal((D, D)), init_scale * rng.standard_normal(D)
    initial = OneLayerTransformer(model.length, W.copy(), u.copy())
    R = record.size
    out = dict(w_norm=np.zeros(R), u_norm=np.zeros(R), loss=np.zeros(R), accuracy=np.zeros(R), u=np.zeros((R, D)),
               features=np.zeros((R, task.size, D)))
    tokens = np.full((task.size, model.length), -1, dtype=np.int64)
    tokens[:, :task.max_length] = task.tokens
    done = _kernels.train(tokens, task.lengths, task.labels, W, u, eta, steps, record, bool(train_attention),
                          out["w_norm"], out["u_norm"], out["loss"], out["accuracy"], out["u"], out["features"])
    if done < steps or not (np.all(np.isfinite(W)) and np.all(np.isfinite(u))):
        raise TrainingDiverged(f"GD diverged at step {done} of {steps} with eta={eta:g} (loss or a parameter beyond "
                               f"{_kernels.BLOWUP:g}); try a smaller eta")
    arrays = dict(norms=np.column_stack([out["w_norm"], out["u_norm"]]), loss=out["loss"], accuracy=out["accuracy"],
                  u=out["u"], features=out["features"], steps=record, labels=np.array(task.labels))
    for value in arrays.values():
        value.setflags(write=False)
    return TrainingRun(OneLayerTransformer(model.length, W, u), initial, eta, **arrays)
