"""Newton-Schulz matrix inversion as a looped linear-attention layer.

Newton-Schulz: X_{k+1} = X_k (2I - A X_k), whose residual R = I - A X squares each step
(``proofs.icl_cot.NS_RESIDUAL``). One LSA layer ``Z + P Z (Z^T Q Z)`` on the embedding
``Z = [A^T; X; I]`` (3d x d, tokens are the columns) with P selecting the X rows and
``Q_{A^T, X} = -I``, ``Q_{I, I} = I`` gives ``Z^T Q Z = I - A X`` and ``X' = 2X - X A X``: one
step, exactly (derived here; the notes wave2/newton_schulz_lsa.md).

Where this differs from the paper. Giannou, Yang, Wang, Papailiopoulos, Lee (AISTATS 2025,
arXiv 2403.03183) state in the v1 abstract that "linear attention-only Transformers implement a
single step of Newton's iteration for matrix inversion with merely two layers" (the AISTATS
abstract drops the sentence). Their construction (token layout, P and Q, whether A^T or a
symmetric A is assumed) could not be read: the stored arXiv HTML page holds the abstract and
the first paragraphs of the introduction only (searched again for this module), so their
two-layer layout is not built here. What can be said without it: the attention term
P Z (Z^T Q Z) is cubic in the entries of Z, so without a constant block in Z every layer adds
only terms of degree >= 3 and the part of X' linear in X stays X (the residual), at any
depth: 2X - X A X needs a constant block (here the identity rows; without them one layer
reaches only X plus cubic terms such as X A X, the mutant ``ns_no_identity`` of validations.icl_cot). The paper's
embedding must therefore carry a constant too; its second layer presumably forms A X first in
a scratch block, as in the notes' two-layer form [A^T; X; I; Y] (layer 1: Y = A X; layer 2:
X += X (I - Y)) [unconfirmed]. With the identity block and A^T in the embedding one layer is
exact, and the looped layer performs one Newton-Schulz step per loop.
"""
import numpy as np

from theorytk import _validate


def ns_layer(d):
    """(P, Q), each 3d x 3d, of the one-layer Newton-Schulz step on ``[A^T; X; I]``."""
    d = _validate.integer("d", d, minimum=1)
    P, Q = np.zeros((3 * d, 3 * d)), np.zeros((3 * d, 3 * d))
    P[d:2 * d, d:2 * d] = np.eye(d)
    Q[0:d, d:2 * d] = -np.eye(d)
    Q[2 * d:, 2 * d:] = np.eye(d)
    return P, Q


def lsa(Z, P, Q):
    """Z + P Z (Z^T Q Z)."""
    return Z + P @ Z @ (Z.T @ Q @ Z)


def newton_schulz(A, steps, X0=None, layer=None):
    """Iterates of the looped NS layer and their residual norms ||I - A X_k||_2, k = 0..steps.

    Parameters
    ----------
    A : array_like, (d, d)
        Invertible.
    steps : int
        >= 0.
    X0 : array_like, optional
        Default: 2/(lmin + lmax) I for symmetric positive definite A, A^T/||A||_2^2 otherwise.
    layer : (P, Q), optional
        The looped layer, each 3d x 3d; default :func:`ns_layer` (one exact NS step).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The last iterate X_steps and the residual norms, shape (steps + 1,) (inf after an overflow).
    """
    A = _validate.array("A", A, ndim=2)
    d = A.shape[0]
    if A.shape != (d, d):
        raise ValueError(f"A must be square, got shape {A.shape}")
    steps = _validate.integer("steps", steps, minimum=0)
    X = initial_guess(A) if X0 is None else _validate.array("X0", X0, shape=(d, d))
    if layer is None:
        P, Q = ns_layer(d)
    else:
        P, Q = (_validate.array(name, m, shape=(3 * d, 3 * d)) for name, m in zip(("P", "Q"), layer))
    Z = np.vstack([A.T, X, np.eye(d)])
    norms = [_residual_norm(A, X)]
    with np.errstate(all="ignore"):
        for _ in range(steps):
            Z = lsa(Z, P, Q)
            norms.append(_residual_norm(A, Z[d:2 * d]))
    return Z[d:2 * d], np.array(norms)


def _residual_norm(A, X):
    """||I - A X||_2, or inf once X has overflowed (a diverging iteration)."""
    R = np.eye(A.shape[0]) - A @ X
    return float(np.linalg.norm(R, 2)) if np.all(np.isfinite(R)) else np.inf


def initial_guess(A):
    """2/(lmin + lmax) I for symmetric positive definite A, else A^T/||A||_2^2."""
    if np.allclose(A, A.T):
        lam = np.linalg.eigvalsh(A)
        if lam[0] > 0:
            return 2.0 / (lam[0] + lam[-1]) * np.eye(A.shape[0])
    return A.T / np.linalg.norm(A, 2) ** 2


def iterations_needed(eps, rho):
    """ceil(log2(log eps / log rho)): NS steps to reach ||R_k|| <= eps from ||R_0|| = rho < 1."""
    eps = _validate.real("eps", eps, minimum=0.0, strict_minimum=True, maximum=1.0)
    rho = _validate.real("rho", rho, minimum=0.0, strict_minimum=True, maximum=1.0)
    if eps >= 1.0 or rho >= 1.0:
        raise ValueError(f"eps and rho must be < 1, got eps={eps}, rho={rho}")
    return int(np.ceil(np.log2(np.log(eps) / np.log(rho))))
