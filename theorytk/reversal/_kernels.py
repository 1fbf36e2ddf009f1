r"""Numba kernel of full-batch gradient descent on the bilinear next-token model.

The model (see :mod:`theorytk.reversal.model`): entity embeddings :math:`E` (rows
:math:`e_j`, shape ``M x d``), logits :math:`z_y(x) = e_y^\top \Theta e_x`, mean
cross-entropy over the ``N`` training pairs :math:`(x_n \to y_n)`. Its gradient is
:math:`\nabla L = \frac1N E^\top R X^\top` with :math:`X` the input embeddings (columns
:math:`e_{x_n}`) and :math:`R = P - Y` (softmax minus one-hot, ``M x N``). From
:math:`\Theta_0 = 0` every iterate is therefore :math:`\Theta_t = E^\top W_t X^\top` with
:math:`W_{t+1} = W_t - \frac{\eta}{N} R_t`, and every logit needs only the Gram matrix
:math:`K = E E^\top`:

.. math::

    z_j(q) = \sum_{m,n} K_{jm} W_{mn} K_{x_n q}.

The symmetric (tied) model projects each gradient onto symmetric matrices,
:math:`\Theta_t = \frac12 (E^\top W_t X^\top + X W_t^\top E)`, which adds
:math:`\frac12 \sum_{n,m} K_{j x_n} W_{mn} K_{mq}` to the half of the first sum. So GD runs
exactly on the ``M x N`` coefficients, at a cost independent of ``d``. Compiled with
``fastmath`` off so that the kernel and :mod:`theorytk.reversal.reference` agree to rounding.

Layout and cost: the state is ``Wt = W^T`` (a row per pair) and logits are built transposed
(``Zt[q, j]``, ``Zt = K_q (Wt K)``) so that the softmax and the update run over the ``M``
candidates contiguously. The constant Gram blocks are multiplied through :func:`product` and
:func:`right_product`: when all rows are dense (Gaussian embeddings) by the register-tiled
:func:`theorytk._gemm.gemm_nn`, otherwise each row by its non-zeros (:func:`compress`; a row with
fewer than a quarter non-zeros), so one-hot GD costs ``O(M N)`` a step instead of the
reference's dense ``O(M^2 N + M N^2)``. A dense step is two products, ``2 (M^2 N + M N^2)`` flops
in all, the same as the reference's, so the kernel's gain over it is the
reference's overhead and its ``M N`` scalar ``exp`` calls: the softmax uses
:func:`theorytk._vecmath.exp_nonpositive`, which LLVM vectorises (profile and numbers in :mod:`benchmarks.reversal`).
"""
import numpy as np

from theorytk._gemm import PLAIN, gemm_nn
from theorytk._jit import kernel
from theorytk._vecmath import exp_nonpositive

BLOWUP = 1e300


@kernel(fastmath=False)
def softmax_residual(Zt, targets):
    r"""Rows of ``Zt`` (logits, one row per training pair) into ``softmax - onehot(targets)`` in place; returns the
    mean cross-entropy :math:`\frac1N \sum_n [\log \sum_j e^{z_{nj}} - z_{n, y_n}]`.

    Per row: the maximum (four running maxima), :math:`e^{z - \max}` through :func:`exp_nonpositive` (a vectorised
    loop), its sum (four running sums, then added in a fixed order), the scaling by its inverse and the
    target's -1.
    """
    N, M = Zt.shape
    head = M - M % 4
    loss = 0.0
    for n in range(N):
        z = Zt[n]
        t0, t1, t2, t3 = z[0], z[0], z[0], z[0]
        for j in range(0, head, 4):
            t0 = z[j] if z[j] > t0 else t0
            t1 = z[j + 1] if z[j + 1] > t1 else t1
            t2 = z[j + 2] if z[j + 2] > t2 else t2
            t3 = z[j + 3] if z[j + 3] > t3 else t3
        for j in range(head, M):
            t0 = z[j] if z[j] > t0 else t0
        top = max(max(t0, t1), max(t2, t3))
        target = z[targets[n]]
        for j in range(M):
            z[j] = exp_nonpositive(z[j] - top)
        s0, s1, s2, s3 = 0.0, 0.0, 0.0, 0.0
        for j in range(0, head, 4):
            s0 += z[j]
            s1 += z[j + 1]
            s2 += z[j + 2]
            s3 += z[j + 3]
        for j in range(head, M):
            s0 += z[j]
        total = (s0 + s1) + (s2 + s3)
        loss += top + np.log(total) - target
        inverse = 1.0 / total                  # one division a row (the reference divides each entry: 1 ulp apart)
        for j in range(M):
            z[j] *= inverse
        z[targets[n]] -= 1.0
    return loss / N


@kernel(fastmath=False)
def compress(A):
    """Row-compressed ``A``: ``(ptr, idx, val, dense)``; ``dense[i]`` marks rows with >= ncols/4 non-zeros."""
    rows, cols = A.shape
    ptr = np.zeros(rows + 1, dtype=np.int64)
    for i in range(rows):
        ptr[i + 1] = ptr[i] + np.count_nonzero(A[i])
    idx = np.empty(ptr[rows], dtype=np.int64)
    val = np.empty(ptr[rows])
    dense = np.empty(rows, dtype=np.bool_)
    for i in range(rows):
        k = ptr[i]
        for j in range(cols):
            if A[i, j] != 0.0:
                idx[k] = j
                val[k] = A[i, j]
                k += 1
        dense[i] = 4 * (ptr[i + 1] - ptr[i]) >= cols
    return ptr, idx, val, dense


@kernel(inline="always", fastmath=False)
def _dense_product(X, Y):
    """``X @ Y`` for C-contiguous dense operands by the register-tiled :func:`theorytk._gemm.gemm_nn`."""
    out = np.empty((X.shape[0], Y.shape[1]))
    gemm_nn(X, Y, np.zeros(Y.shape[1]), out, 0, X.shape[0], PLAIN, out)
    return out


@kernel(fastmath=False)
def product(A, compressed, B):
    """``A @ B`` for a constant ``A`` given with its :func:`compress` and a C-contiguous ``B``: the register-tiled
    :func:`theorytk._gemm.gemm_nn` when every row of ``A`` is dense, else each row through its non-zeros (a
    plain loop over the rows that are dense)."""
    ptr, idx, val, dense = compressed
    if dense.all():
        return _dense_product(A, B)
    out = np.zeros((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        acc = out[i]
        lo, hi = (0, A.shape[1]) if dense[i] else (ptr[i], ptr[i + 1])
        for k in range(lo, hi):
            col, a = (k, A[i, k]) if dense[i] else (idx[k], val[k])
            if a != 0.0:
                row = B[col]
                for j in range(acc.shape[0]):
                    acc[j] += a * row[j]
    return out


@kernel(fastmath=False)
def right_product(B, A, compressed):
    """``B @ A`` for a C-contiguous ``B`` and a constant ``A`` given with its :func:`compress`: ``gemm_nn`` when every
    row of ``A`` is dense, else ``sum_m B[:, m] A[m, :]`` through the non-zeros of each row ``A[m]`` (one column
    update ``out[:, col] += A[m, col] B[:, m]`` each; measured 5x faster here than gathering each entry of the
    result through a one-entry row)."""
    ptr, idx, val, dense = compressed
    if dense.all():
        return _dense_product(B, A)
    out = np.zeros((B.shape[0], A.shape[1]))
    for m in range(A.shape[0]):
        lo, hi = (0, A.shape[1]) if dense[m] else (ptr[m], ptr[m + 1])
        for k in range(lo, hi):
            col, a = (k, A[m, k]) if dense[m] else (idx[k], val[k])
            if a != 0.0:
                for n in range(B.shape[0]):
                    out[n, col] += a * B[n, m]
    return out


@kernel(fastmath=False)
def _block(K, rows, cols):
    """``K[rows][:, cols]`` as a new C-contiguous array."""
    out = np.empty((rows.shape[0], cols.shape[0]))
    for a in range(rows.shape[0]):
        for b in range(cols.shape[0]):
            out[a, b] = K[rows[a], cols[b]]
    return out


@kernel(fastmath=False)
def _logits_t(K, Kc, Wt, Kq, Kqc, symmetric, Kx, Kxc, queries):
    """``Zt[c, j] = z_j(queries[c])`` from ``Wt = W^T`` with ``Kq = K[queries][:, inputs]``, ``Kx = K[:, inputs]``
    (and compressed): ``Zt = Kq (Wt K)`` (``Wt K = (K W)^T``, ``K`` symmetric); tied: the mean of that and
    ``(Kx (Wt K)[:, queries])^T``."""
    G = right_product(Wt, K, Kc)                                        # N x M
    Zt = product(Kq, Kqc, G)                                            # Q x M
    if symmetric:
        extra = product(Kx, Kxc, np.ascontiguousarray(G[:, queries]))   # M x Q
        Zt = 0.5 * (Zt + extra.T)
    return Zt


@kernel(fastmath=False)
def gd(K, inputs, targets, W, lr, steps, until_loss, symmetric, record, probes, out_loss, out_logits, out_steps):
    """Full-batch GD on the coefficients ``W`` (updated in place) from state 0 to at most ``steps``.

    At each state t the training loss is written to ``out_loss[t]``; the probe logits
    (``out_logits[k]``, shape len(probes) x M) are written when t is the next entry of
    ``record`` and at the final state. Stops at the first state whose loss is <= ``until_loss``
    or beyond ``BLOWUP`` (or NaN), or at ``steps``. Returns ``(final state, snapshots written)``.
    """
    M, N = W.shape
    scale = lr / N
    Wt = np.ascontiguousarray(W.T)                # the state, one row per pair (contiguous updates)
    Kc = compress(K)
    K_train, K_probe, Kx = _block(K, inputs, inputs), _block(K, probes, inputs), _block(K, np.arange(M), inputs)
    train_c, probe_c, x_c = compress(K_train), compress(K_probe), compress(Kx)
    k = 0
    written = 0
    t = 0
    while True:
        Zt = _logits_t(K, Kc, Wt, K_train, train_c, symmetric, Kx, x_c, inputs)
        loss = softmax_residual(Zt, targets)
        out_loss[t] = loss
        done = not abs(loss) <= BLOWUP or loss <= until_loss or t == steps
        due = k < record.shape[0] and record[k] == t
        if due:
            k += 1
        if due or done:
            out_logits[written] = _logits_t(K, Kc, Wt, K_probe, probe_c, symmetric, Kx, x_c, probes)
            out_steps[written] = t
            written += 1
        if done:
            W[:, :] = Wt.T
            return t, written
        for n in range(N):
            for j in range(M):
                Wt[n, j] -= scale * Zt[n, j]
        t += 1
