r"""The COPY task and the error of an operator on it.

Task (as in Ren, Li, Liu, arXiv 2410.03810, restated in our notes; their exact definition is
unconfirmed): inputs :math:`u_0, \dots, u_{L_c - 1}` i.i.d. with mean 0 and unit variance, then
blanks (:math:`u_t = 0` for :math:`t \ge L_c`); targets :math:`y_{L_c + j} = u_j`,
:math:`j = 0..L_c-1`. For a linear operator the outputs are :math:`y_{L_c:2L_c} = H u_{:L_c}` with
:math:`H = T_{L_c:2L_c, :L_c}`, so the mean squared error per token is exactly

.. math::

    \mathrm{MSE} = \frac{1}{L_c} E\|H u - u\|^2 = \frac{\|H - I\|_F^2}{L_c},

and since :math:`\mathrm{rank}\, H \le \mathrm{ESS}_{L_c} \le n` for an operator of state :math:`n`,
Eckart-Young gives :math:`\mathrm{MSE} \ge (L_c - n)/L_c` (:mod:`proofs.memory_capacity`).
"""
import numpy as np

from theorytk import _validate
from theorytk.memory.ess import EPS, causal_matrix
from theorytk.random import generator

__all__ = ["copy_block", "copy_error", "copy_error_samples", "copy_rounding_bound"]


def _context(T, context):
    context = _validate.integer("context", context, minimum=1)
    if 2 * context > T.shape[0]:
        raise ValueError(f"context must be <= L/2 = {T.shape[0] / 2:g} (the targets follow the context), got {context}")
    return context


def copy_block(T, context):
    """:math:`H = T_{L_c:2L_c, :L_c}`: the map from the context to the copy targets."""
    T = causal_matrix(T)
    context = _context(T, context)
    return T[context:2 * context, :context]


def copy_error(T, context):
    r"""The exact COPY mean squared error per token, :math:`\|H - I\|_F^2 / L_c`.

    Parameters
    ----------
    T : CausalOperator or array_like, shape (L, L)
    context : int
        :math:`L_c`, with :math:`2 L_c \le L`.
    """
    H = copy_block(T, context)
    return float(np.sum((H - np.eye(H.shape[0])) ** 2) / H.shape[0])


def copy_rounding_bound(T, context):
    r"""A float64 bound on how far :func:`copy_error` can be from the error of the exact operator.

    Each entry of :math:`T` is a sum or product chain of at most :math:`2L` floating-point
    operations, so its error is at most :math:`\gamma_{2L}\,\max|T|`, :math:`\gamma_m = m\varepsilon
    / (1 - m\varepsilon)` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Lemma
    3.1), and :math:`\|E\|_F \le L_c \gamma_{2L} \max|T| =: e`. Then
    :math:`|\|H + E - I\|_F^2 - \|H - I\|_F^2| \le 2\|H - I\|_F e + e^2`, divided by :math:`L_c`.
    A deliberate overestimate: it sets the scale of rounding, not a fudge for a modelling error.
    """
    H = copy_block(T, context)
    L = causal_matrix(T).shape[0]
    m = 2 * L * EPS
    e = H.shape[0] * m / (1 - m) * float(np.max(np.abs(causal_matrix(T))))
    distance = float(np.linalg.norm(H - np.eye(H.shape[0])))
    return (2 * distance * e + e * e) / H.shape[0]


def copy_error_samples(T, context, samples, seed=0):
    r"""Monte-Carlo COPY errors: :math:`\|H u - u\|^2 / L_c` for ``samples`` draws :math:`u \sim N(0, I)`.

    Their mean estimates :func:`copy_error` (unbiased); returned as an array of length ``samples``.
    """
    H = copy_block(T, context)
    samples = _validate.integer("samples", samples, minimum=1)
    U = generator(_validate.seed("seed", seed)).standard_normal((samples, H.shape[0]))
    return np.sum((U @ H.T - U) ** 2, axis=1) / H.shape[0]
