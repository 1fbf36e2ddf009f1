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

Layout: logits are built transposed (``Zt[q, j]``) so that the softmax runs over the ``M``
candidates contiguously. The constant Gram blocks are multiplied through :func:`product`: a block
whose rows are all dense (Gaussian embeddings) by BLAS (``np.dot``), otherwise each row by its
non-zeros (:func:`compress`; a row with fewer than a quarter non-zeros), so one-hot GD costs
``O(M N)`` a step instead of the reference's dense ``O(M^2 N + M N^2)``.
"""
import numpy as np

from theorytk._jit import kernel

BLOWUP = 1e300


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


@kernel(fastmath=False)
def product(A, compressed, B):
    """``A @ B`` for a constant ``A`` given with its :func:`compress`: BLAS when every row is dense, else each
    row through its non-zeros (a plain loop over the rows that are dense)."""
    ptr, idx, val, dense = compressed
    if dense.all():
        return np.dot(A, B)
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
def _block(K, rows, cols):
    """``K[rows][:, cols]`` as a new C-contiguous array."""
    out = np.empty((rows.shape[0], cols.shape[0]))
    for a in range(rows.shape[0]):
        for b in range(cols.shape[0]):
            out[a, b] = K[rows[a], cols[b]]
    return out


@kernel(fastmath=False)
def _logits_t(K, Kc, W, Kq, Kqc, symmetric, Kx, Kxc, queries):
    """``Zt[c, j] = z_j(queries[c])`` with ``Kq = K[queries][:, inputs]``, ``Kx = K[:, inputs]`` (and compressed):
    ``Zt = Kq (K W)^T``; tied: the mean of that and ``(Kx (K W)[queries]^T)^T``."""
    KW = product(K, Kc, W)                                              # M x N
    Zt = product(Kq, Kqc, np.ascontiguousarray(KW.T))                   # Q x M
    if symmetric:
        extra = product(Kx, Kxc, np.ascontiguousarray(KW[queries].T))   # M x Q
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
    Kc = compress(K)
    K_train, K_probe, Kx = _block(K, inputs, inputs), _block(K, probes, inputs), _block(K, np.arange(M), inputs)
    train_c, probe_c, x_c = compress(K_train), compress(K_probe), compress(Kx)
    k = 0
    written = 0
    t = 0
    while True:
        Zt = _logits_t(K, Kc, W, K_train, train_c, symmetric, Kx, x_c, inputs)
        loss = 0.0
        for n in range(N):
            z = Zt[n]
            top = z[0]
            for j in range(1, M):
                if z[j] > top:
                    top = z[j]
            target = z[targets[n]]
            total = 0.0
            for j in range(M):
                z[j] = np.exp(z[j] - top)      # Zt now holds the unnormalised softmax
                total += z[j]
            loss += top + np.log(total) - target
            for j in range(M):
                z[j] /= total
            z[targets[n]] -= 1.0               # the residual R^T
        loss /= N
        out_loss[t] = loss
        done = not abs(loss) <= BLOWUP or loss <= until_loss or t == steps
        due = k < record.shape[0] and record[k] == t
        if due:
            k += 1
        if due or done:
            out_logits[written] = _logits_t(K, Kc, W, K_probe, probe_c, symmetric, Kx, x_c, probes)
            out_steps[written] = t
            written += 1
        if done:
            return t, written
        for j in range(M):
            for n in range(N):
                W[j, n] -= scale * Zt[n, j]
        t += 1
