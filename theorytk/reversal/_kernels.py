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
"""
import numpy as np

from theorytk._jit import kernel

BLOWUP = 1e300


@kernel(fastmath=False)
def logit_matrix(K, inputs, W, symmetric, queries):
    """Logits z_j(q) for every candidate j (rows) and query entity q in ``queries`` (columns)."""
    M, N = W.shape
    Q = queries.shape[0]
    KW = np.zeros((M, N))
    for j in range(M):
        for m in range(M):
            kjm = K[j, m]
            if kjm != 0.0:
                for n in range(N):
                    KW[j, n] += kjm * W[m, n]
    Z = np.zeros((M, Q))
    for j in range(M):
        for n in range(N):
            a = KW[j, n]
            if a != 0.0:
                xn = inputs[n]
                for c in range(Q):
                    Z[j, c] += a * K[xn, queries[c]]
    if symmetric:
        V = np.zeros((N, Q))          # V[n, c] = sum_m W[m, n] K[m, q_c]
        for n in range(N):
            for m in range(M):
                w = W[m, n]
                if w != 0.0:
                    for c in range(Q):
                        V[n, c] += w * K[m, queries[c]]
        for j in range(M):
            for c in range(Q):
                extra = 0.0
                for n in range(N):
                    extra += K[j, inputs[n]] * V[n, c]
                Z[j, c] = 0.5 * (Z[j, c] + extra)
    return Z


@kernel(fastmath=False)
def gd(K, inputs, targets, W, lr, steps, until_loss, symmetric, record, probes, out_loss, out_logits, out_steps):
    """Full-batch GD on the coefficients ``W`` (updated in place) from state 0 to at most ``steps``.

    At each state t the training loss is written to ``out_loss[t]``; the probe logits
    (``out_logits[k]``, shape M x len(probes)) are written when t is the next entry of
    ``record`` and at the final state. Stops at the first state whose loss is <= ``until_loss``
    or non-finite, or at ``steps``. Returns ``(final state, number of snapshots written)``.
    """
    M, N = W.shape
    scale = lr / N
    k = 0
    written = 0
    t = 0
    R = np.empty((M, N))
    while True:
        Z = logit_matrix(K, inputs, W, symmetric, inputs)
        loss = 0.0
        for n in range(N):
            top = Z[0, n]
            for j in range(1, M):
                if Z[j, n] > top:
                    top = Z[j, n]
            total = 0.0
            for j in range(M):
                R[j, n] = np.exp(Z[j, n] - top)
                total += R[j, n]
            for j in range(M):
                R[j, n] /= total
            R[targets[n], n] -= 1.0
            loss += top + np.log(total) - Z[targets[n], n]
        loss /= N
        out_loss[t] = loss
        done = not abs(loss) <= BLOWUP or loss <= until_loss or t == steps
        due = k < record.shape[0] and record[k] == t
        if due:
            k += 1
        if due or done:
            out_logits[written] = logit_matrix(K, inputs, W, symmetric, probes).T
            out_steps[written] = t
            written += 1
        if done:
            return t, written
        for j in range(M):
            for n in range(N):
                W[j, n] -= scale * R[j, n]
        t += 1
