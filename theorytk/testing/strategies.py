"""Hypothesis strategies for admissible problems and seeds.

Each strategy draws only parameters that the solvers accept and that the toolkit's
theorems assume (positive temperatures, bounded activations, data of modest size), so a
property test spends its examples on the bound, not on input errors.
"""
import numpy as np
from hypothesis import strategies as st

from theorytk.mfld import MeanFieldProblem

__all__ = ["mean_field_problems", "seeds"]

_SEED_MAX = 2**32 - 1


def seeds():
    """Root seeds: integers in [0, 2**32 - 1]."""
    return st.integers(min_value=0, max_value=_SEED_MAX)


@st.composite
def mean_field_problems(draw, n=(4, 16), dim=(1, 1), lam=(0.01, 0.5), lam_l2=(0.02, 0.5),
                        losses=("squared",), activations=("tanh",)):
    """:class:`theorytk.mfld.MeanFieldProblem` s with random data.

    Inputs are uniform on [-2, 2]^d, targets ``a sin(b <z, v>)`` for the squared loss
    (``|y| <= 1``) or their signs for the logistic loss.

    Parameters
    ----------
    n, dim : (int, int)
        Inclusive ranges of the number of data points and the input dimension (d = 1 by
        default: :func:`theorytk.mfld.mean_field_optimum` needs it).
    lam, lam_l2 : (float, float)
        Ranges of the temperature and the L2 weight (both > 0).
    losses, activations : sequence of str
        Allowed losses and activations.
    """
    size = draw(st.integers(*n))
    d = draw(st.integers(*dim))
    rng = np.random.default_rng(draw(seeds()))
    z = rng.uniform(-2.0, 2.0, (size, d))
    v = rng.standard_normal(d)
    y = draw(st.floats(0.2, 1.0)) * np.sin(draw(st.floats(0.5, 2.0)) * z @ (v / np.linalg.norm(v)))
    loss = draw(st.sampled_from(tuple(losses)))
    if loss == "logistic":
        y = np.where(y >= 0, 1.0, -1.0)
    return MeanFieldProblem(z if d > 1 else z[:, 0], y, lam=draw(st.floats(*lam)), lam_l2=draw(st.floats(*lam_l2)),
                            loss=loss, activation=draw(st.sampled_from(tuple(activations))))
