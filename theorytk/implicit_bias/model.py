r"""The one-layer transformer of our notes: one-hot token + position embedding, softmax attention from
the last token, a linear readout.

.. math::

    x_i = \begin{bmatrix} e_{s_i} \\ e_i \end{bmatrix} \in \mathbb{R}^{2+L},\qquad
    h(X) = \sum_{i=1}^{T} \mathrm{softmax}_i\!\left(x_i^\top W x_T\right) x_i,\qquad
    f(X) = u^\top h(X),

trained on the mean logistic loss :math:`\frac1N \sum_n \log(1 + e^{-y_n f(X_n)})`.
Huang, Liang, Yang (ICML 2025, arXiv 2505.00926) study "an attention layer followed by a linear
layer" trained by GD [paper, abstract]; the embedding (concatenated one-hots), the full W (no
separate key/query/value matrices), the query at the last token and the initialisation are our
reading [unconfirmed against the paper's Sec. 2]. A third-party note on the paper (stored code
index, id 61396501216) [secondary] gives :math:`T_\theta(X) = u^\top \sum_\ell x_\ell
\,\mathrm{softmax}(X^\top W x_L/\lambda)_\ell` (ours with :math:`\lambda = 1`: query at the last
token, a full W, no value matrix), the loss :math:`\sum_{L'=1}^{L} \frac{1}{|I_{L'}|}\sum_{n \in I_{L'}}
\log(1 + e^{-y_n T_\theta(X_n)})` (each length weighted equally; ours is the mean over all strings,
which leaves the max-margin limits unchanged), a phase-1 attention step scaled up by
:math:`\lambda`, experiments with L = 6, :math:`\eta = 0.1`, :math:`t_0 = 100`, :math:`\lambda = 2`, and
orthogonal embeddings in the theory (our concatenated one-hots are not orthogonal across tokens
at one position). It states the loss rate of its Thm. 4.5 as
:math:`O(L\|u^*\|^2/(\eta\sqrt t))`, where the abstract says :math:`O(1/t)`; we test :math:`1/t`.

Parity through chain of thought at inference (:meth:`OneLayerTransformer.parity_by_cot`): the
parity state :math:`c_t` (a while the number of b's in :math:`s_1..s_t` is even) obeys
:math:`c_t = a \iff c_{t-1} = s_t`, with :math:`c_0 = a`, so each CoT step is an even-pairs
question on the two-token string :math:`(c_{t-1}, s_t)`, answered by the even-pairs model
[derived here]. The paper's own format, as a third-party note states it [secondary], is the
*truncated* CoT of :mod:`theorytk.implicit_bias.tasks` (:meth:`OneLayerTransformer.parity_by_truncated_cot`):
each step asks the even-pairs question of the whole current window, appends the answer and drops
the first token. CoT *training* (the paper's second route) is GD on
:func:`~theorytk.implicit_bias.parity_cot` (the teacher-forced windows plus the even-pairs loss);
a model so trained then solves parity by truncated CoT. An earlier candidate format (the states
:math:`c_1..c_t` appended after the string, the next state as the label, no regulariser) is not
learned by this model (prototype, L = 3..5, up to 2e5 steps: accuracy stuck at 0.80-0.83).
"""
from dataclasses import dataclass, field

import numpy as np

from theorytk import _validate
from theorytk.implicit_bias import _kernels
from theorytk.implicit_bias.tasks import MAX_LENGTH, LanguageTask

__all__ = ["OneLayerTransformer"]


@dataclass(frozen=True, eq=False)
class OneLayerTransformer:
    """One softmax-attention layer and a linear readout on strings of length <= ``length``.

    Parameters
    ----------
    length : int
        The longest string L (positions 1..L); the embedding has D = 2 + L entries.
    W : array_like, shape (D, D), optional
        Attention matrix; ``None`` (default) lets :func:`~theorytk.implicit_bias.train` draw it.
    u : array_like, shape (D,), optional
        Readout; ``None`` as for W.
    """

    length: int
    W: np.ndarray = field(default=None)
    u: np.ndarray = field(default=None)

    def __post_init__(self):
        L = _validate.integer("length", self.length, minimum=1, maximum=MAX_LENGTH)
        object.__setattr__(self, "length", L)
        D = 2 + L
        if (self.W is None) != (self.u is None):
            raise ValueError("W and u must be given together (or both left None for a random initialisation)")
        if self.W is not None:
            for name, shape in (("W", (D, D)), ("u", (D,))):
                value = _validate.array(name, getattr(self, name), shape=shape)
                value.setflags(write=False)
                object.__setattr__(self, name, value)

    @property
    def dim(self):
        """D = 2 + L."""
        return 2 + self.length

    @property
    def initialised(self):
        """Whether W and u are set."""
        return self.W is not None

    def check_task(self, task, name="task"):
        """``task`` if it is a LanguageTask whose strings fit (max_length <= length), else a clear error."""
        if not isinstance(task, LanguageTask):
            raise TypeError(f"{name} must be a LanguageTask (even_pairs(L) or parity(L)), got {type(task).__name__}")
        if task.max_length > self.length:
            raise ValueError(f"{name} has strings of length up to {task.max_length}, longer than the model's "
                             f"length={self.length}")
        return task

    def _parameters(self):
        if not self.initialised:
            raise ValueError("the model has no parameters yet (W and u are None): train it or pass W and u")
        return np.array(self.W), np.array(self.u)

    def _padded(self, task):
        tokens = np.full((task.size, self.length), -1, dtype=np.int64)
        tokens[:, :task.max_length] = task.tokens
        return tokens

    def features(self, task):
        """Attention outputs h (N x D) on every string of ``task``."""
        return self._forward(self.check_task(task))[0]

    def logits(self, task):
        """f = u.h (N,) on every string of ``task``."""
        h = self.features(task)
        return h @ self.u

    def _forward(self, task):
        W, u = self._parameters()
        D = self.dim
        h = np.zeros((task.size, D))
        loss, accuracy = _kernels.forward_backward(self._padded(task), task.lengths, task.labels, W, u,
                                                   np.zeros((D, D)), np.zeros(D), h, False)
        return h, loss, accuracy

    def loss(self, task):
        """``(mean logistic loss, accuracy)`` on ``task``."""
        _, loss, accuracy = self._forward(self.check_task(task))
        return loss, accuracy

    def parity_by_cot(self, task):
        """Parity labels (+1: even number of b's) of ``task``'s strings by chain of thought (module docstring).

        Each step asks the model for the even-pairs label of the two-token string (c_{t-1}, s_t);
        the model must accept strings of length 2 (``length >= 2``).

        Returns
        -------
        numpy.ndarray of float, shape (N,)
        """
        if not isinstance(task, LanguageTask):
            raise TypeError(f"task must be a LanguageTask, got {type(task).__name__}")
        if self.length < 2:
            raise ValueError(f"parity by CoT asks about two-token strings: the model needs length >= 2, got {self.length}")
        W, u = self._parameters()
        D = self.dim
        # the four two-token questions (c, s) -> +1 iff the model says "first = last"
        pairs = np.full((4, self.length), -1, dtype=np.int64)
        pairs[:, :2] = [[0, 0], [0, 1], [1, 0], [1, 1]]
        h = np.zeros((4, D))
        _kernels.forward_backward(pairs, np.full(4, 2, dtype=np.int64), np.ones(4), W, u, np.zeros((D, D)),
                                  np.zeros(D), h, False)
        same = (h @ u > 0).reshape(2, 2)
        out = np.empty(task.size)
        for n, (row, T) in enumerate(zip(task.tokens, task.lengths)):
            c = 0
            for s in row[:T]:
                c = 0 if same[c, s] else 1
            out[n] = 1.0 if c == 0 else -1.0
        return out

    def parity_by_truncated_cot(self, task):
        """Parity labels (+1: even number of b's) of ``task``'s strings by the truncated CoT of
        :mod:`theorytk.implicit_bias.tasks`: a string of length n takes n - 1 steps, each the model's even-pairs
        answer (``u.h > 0``: first = last) on the current length-n window, appended as ``a`` (yes) or ``b``
        while the first token is dropped; the last appended token is the answer (a string of length 1
        is its own answer).

        Returns
        -------
        numpy.ndarray of float, shape (N,)
        """
        task = self.check_task(task)
        W, u = self._parameters()
        D = self.dim
        windows = self._padded(task)
        for step in range(task.max_length - 1):
            active = np.flatnonzero(task.lengths > step + 1)
            current = np.ascontiguousarray(windows[active])
            h = np.zeros((active.size, D))
            _kernels.forward_backward(current, task.lengths[active], np.ones(active.size), W, u, np.zeros((D, D)),
                                      np.zeros(D), h, False)
            appended = np.where(h @ u > 0, 0, 1)
            ends = task.lengths[active]
            current[:, :-1] = current[:, 1:]
            current[np.arange(active.size), ends - 1] = appended
            windows[active] = current
        last = windows[np.arange(task.size), task.lengths - 1]
        return np.where(last == 0, 1.0, -1.0)
