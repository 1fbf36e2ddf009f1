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

Layout: the kernel works on transposes (``Wt = W^T``, logits ``Zt[q, j]``) so that every inner
loop runs over the ``M`` candidates contiguously, and it reads the constant Gram blocks through a
row-compressed form (:func:`compress`): a row with fewer than ``M/4`` non-zeros (one-hot
embeddings) is visited by its non-zeros only, a dense row (Gaussian) by a plain loop. One-hot GD
then costs ``O(M N)`` a step instead of the reference's dense ``O(M^2 N + M N^2)``.
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


@kernel(fastmath=False, inline="always")
def _add_row(acc, w, A, i, ptr, idx, val, dense):
    """acc += w * A[i, :] through the compressed form of A."""
    if dense[i]:
        for j in range(acc.shape[0]):
            acc[j] += w * A[i, j]
    else:
        for k in range(ptr[i], ptr[i + 1]):
            acc[idx[k]] += w * val[k]


@kernel(fastmath=False, inline="always")
def _row_dot(x, A, i, ptr, idx, val, dense):
    """sum_j x[j] A[i, j] through the compressed form of A."""
    total = 0.0
    if dense[i]:
        for j in range(x.shape[0]):
            total += x[j] * A[i, j]
    else:
        for k in range(ptr[i], ptr[i + 1]):
            total += x[idx[k]] * val[k]
    return total


@kernel(fastmath=False)
def _logits_t(K, Kc, inputs, Wt, symmetric, queries, Kq):
    """``Zt[c, j] = z_j(queries[c])``; ``Kc`` = compressed K, ``Kq`` = compressed K[queries][:, inputs]."""
    N, M = Wt.shape
    Q = queries.shape[0]
    ptr, idx, val, dense = Kc
    KWt = np.zeros((N, M))          # KWt[n, :] = sum_m W[m, n] K[m, :]
    for n in range(N):
        acc, weights = KWt[n], Wt[n]
        for m in range(M):
            w = weights[m]
            if w == 0.0:
                continue
            if dense[m]:    # _add_row written out: as a call (even inline="always") this loop ran 3-10x slower
                for j in range(M):
                    acc[j] += w * K[m, j]
            else:
                for k in range(ptr[m], ptr[m + 1]):
                    acc[idx[k]] += w * val[k]
    qptr, qidx, qval, _ = Kq
    Zt = np.zeros((Q, M))           # Zt[c, :] = sum_n K[q_c, x_n] KWt[n, :]
    for c in range(Q):
        out = Zt[c]
        for k in range(qptr[c], qptr[c + 1]):
            a = qval[k]
            row = KWt[qidx[k]]
            for j in range(M):
                out[j] += a * row[j]
    if symmetric:                   # + sum_n (sum_m W[m, n] K[m, q_c]) K[x_n, :], then halve
        extra = np.zeros(M)
        for c in range(Q):
            extra[:] = 0.0
            for n in range(N):
                v = _row_dot(Wt[n], K, queries[c], ptr, idx, val, dense)
                if v != 0.0:
                    _add_row(extra, v, K, inputs[n], ptr, idx, val, dense)
            for j in range(M):
                Zt[c, j] = 0.5 * (Zt[c, j] + extra[j])
    return Zt


@kernel(fastmath=False)
def _block(K, rows, cols):
    out = np.empty((rows.shape[0], cols.shape[0]))
    for a in range(rows.shape[0]):
        for b in range(cols.shape[0]):
            out[a, b] = K[rows[a], cols[b]]
    return out


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
    K_train = compress(_block(K, inputs, inputs))
    K_probe = compress(_block(K, probes, inputs))
    Wt = np.ascontiguousarray(W.T)
    k = 0
    written = 0
    t = 0
    while True:
        Zt = _logits_t(K, Kc, inputs, Wt, symmetric, inputs, K_train)
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
            out_logits[written] = _logits_t(K, Kc, inputs, Wt, symmetric, probes, K_probe)
            out_steps[written] = t
            written += 1
        if done:
            W[:, :] = Wt.T
            return t, written
        for n in range(N):
            for j in range(M):
                Wt[n, j] -= scale * Zt[n, j]
        t += 1
