r"""Numba kernels of the one-layer transformer on {a, b} strings: loss, gradients and full-batch GD.

Embedding of token i (0-based) of a string of length T: :math:`x_i = e_{s_i} + e_{2+i}` in
:math:`\mathbb{R}^{D}`, :math:`D = 2 + L` (token one-hot, then position one-hot). Attention from
the last token, :math:`a_i = x_i^\top W x_{T-1}`, :math:`p = \mathrm{softmax}(a)`, output
:math:`h = \sum_i p_i x_i` and logit :math:`f = u^\top h`. With :math:`g = -y\,\sigma(-y f)/N`
(the derivative of the mean logistic loss in f),

.. math::

    \partial_u = \sum_n g_n h_n, \qquad
    \partial_W = \sum_n \sum_i g_n\, p_{n,i} (u^\top x_{n,i} - f_n)\; x_{n,i} x_{n,T-1}^\top .

Every :math:`x_i` has two non-zero entries, so a score is a sum of four entries of W and each
outer product touches four; a score depends only on (token, position) of key and query, so one
table of :math:`4L^2` exponentials per step serves every string (:func:`_attention_table`). A step
costs O(L^2 + sum of lengths) with one exponential per string besides the table, against
O(N L D^2) dense
(:mod:`theorytk.implicit_bias.reference` is the dense twin). Arrays in, arrays out; no
validation here.
"""
import numpy as np

from theorytk._jit import kernel

BLOWUP = 1e300


@kernel
def _logistic(z, with_loss):
    """``(log(1 + e^{-z}), sigma(-z))``, both stable for any sign of z; the loss is 0 unless ``with_loss``
    (one exp per string either way, the log only when asked)."""
    if z > 0:
        e = np.exp(-z)
        return (np.log1p(e) if with_loss else 0.0), e / (1.0 + e)
    e = np.exp(z)
    return (-z + np.log1p(e) if with_loss else 0.0), 1.0 / (1.0 + e)


@kernel
def _attention_table(W, L):
    """``E[q, T-1, s, i] = exp(a - M)`` for every query (last token q at position T-1) and key (token s at i < T).

    A score depends only on (s, i, q, T), so the 4 L^2 exponentials serve every string (instead of one per
    token of every string); ``M`` is the largest score of the query over both tokens at i < T, so
    ``E <= 1`` and a string's softmax is its entries over their sum (the shift cancels).
    """
    E = np.zeros((2, L, 2, L))
    for q in range(2):
        for T in range(1, L + 1):
            q_pos = 2 + T - 1
            top = -np.inf
            for s in range(2):
                for i in range(T):
                    E[q, T - 1, s, i] = W[s, q] + W[s, q_pos] + W[2 + i, q] + W[2 + i, q_pos]
                    top = max(top, E[q, T - 1, s, i])
            for s in range(2):
                for i in range(T):
                    E[q, T - 1, s, i] = np.exp(E[q, T - 1, s, i] - top)
    return E


@kernel
def forward_backward(tokens, lengths, labels, W, u, gW, gu, features, with_attention, with_loss=True):
    """Mean logistic loss; writes its gradients into ``gW``, ``gu`` (zeroed here) and the outputs h into ``features``.

    Returns ``(loss, accuracy)`` (accuracy: fraction with y f > 0; the loss is 0 unless ``with_loss``).
    ``with_attention = False`` leaves ``gW`` at zero (frozen attention).
    """
    N, L = tokens.shape
    gW[:, :] = 0.0
    gu[:] = 0.0
    weights = _attention_table(W, L)
    p = np.empty(L)
    loss = 0.0
    correct = 0
    for n in range(N):
        T = lengths[n]
        q_tok = tokens[n, T - 1]
        q_pos = 2 + T - 1
        total = 0.0
        for i in range(T):
            p[i] = weights[q_tok, T - 1, tokens[n, i], i]
            total += p[i]
        features[n, :] = 0.0
        f = 0.0
        for i in range(T):
            p[i] /= total
            features[n, tokens[n, i]] += p[i]
            features[n, 2 + i] = p[i]
            f += p[i] * (u[tokens[n, i]] + u[2 + i])
        y = labels[n]
        piece, sig = _logistic(y * f, with_loss)
        loss += piece
        if y * f > 0:
            correct += 1
        g = -y * sig / N
        for d in range(features.shape[1]):
            gu[d] += g * features[n, d]
        if with_attention:
            for i in range(T):
                s = tokens[n, i]
                da = g * p[i] * (u[s] + u[2 + i] - f)
                gW[s, q_tok] += da
                gW[s, q_pos] += da
                gW[2 + i, q_tok] += da
                gW[2 + i, q_pos] += da
    return loss / N, correct / N


@kernel
def train(tokens, lengths, labels, W, u, eta, steps, record, with_attention,
          out_w_norm, out_u_norm, out_loss, out_accuracy, out_u, out_features):
    """Full-batch GD for ``steps`` steps on (W, u) in place; record at the (sorted, unique) steps ``record``.

    Entry r of each ``out_*`` holds the state after ``record[r]`` updates: ``||W||_F``, ``||u||``, the loss,
    the accuracy, u (``out_u[r]``) and the attention outputs (``out_features[r]``, N x D). Returns the
    number of updates made: ``steps``, or fewer if a parameter (every step) or the loss (computed at the
    records only) left [-BLOWUP, BLOWUP] (then the later records are left as they were).
    """
    D = W.shape[0]
    gW = np.zeros((D, D))
    gu = np.zeros(D)
    features = np.zeros((tokens.shape[0], D))
    r = 0
    for step in range(steps + 1):
        recording = r < record.size and record[r] == step
        loss, accuracy = forward_backward(tokens, lengths, labels, W, u, gW, gu, features, with_attention, recording)
        if not abs(loss) <= BLOWUP:
            return step
        if recording:
            wn = 0.0
            for a in range(D):
                for b in range(D):
                    wn += W[a, b] * W[a, b]
            out_w_norm[r] = np.sqrt(wn)
            out_u_norm[r] = np.sqrt(np.sum(u * u))
            out_loss[r] = loss
            out_accuracy[r] = accuracy
            out_u[r, :] = u
            out_features[r, :, :] = features
            r += 1
        if step == steps:
            break
        big = 0.0
        for a in range(D):
            u[a] -= eta * gu[a]
            big = max(big, abs(u[a]))
            if with_attention:
                for b in range(D):
                    W[a, b] -= eta * gW[a, b]
                    big = max(big, abs(W[a, b]))
        if not big <= BLOWUP:
            return step + 1
    return steps
