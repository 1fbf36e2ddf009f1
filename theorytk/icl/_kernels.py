"""Numba kernels of a linear self-attention layer on in-context regression prompts.

Embedding (``D = 2d + 2`` rows): data columns ``[x_j; y_j; 0_d; 0]``, CoT columns
``[0_d; 0; w; 1]``. With the context ``Z`` (the n data columns and the CoT columns so far)
and its Gram ``G = Z Z^T / n``, the layer's output at the last column ``z`` is

    o = z + V G W z,

and its w-rows are the next iterate. Per prompt and step ``i`` with residual
``r = M (o - t)`` (``M`` a row mask, ``t`` the target column) the squared loss
``(1/2)||r||^2`` has the closed-form gradients

    dL/dV = r (G W z)^T,        dL/dW = G V^T r z^T         (G symmetric).

Modes: ``COT`` = teacher forcing with the gradient-descent targets
``w_{i+1} = w_i - eta S (w_i - w*)`` (``S = X^T X / n``, ``w_0 = 0``), residual on every row;
``NO_COT`` = one step from ``[0; 0; 0; 1]``, residual on the w-rows against ``w*``.
Teacher forcing fixes every query in advance, so the structured per-prompt parts run in
parallel over prompts and the dense parts are matrix products over all (prompt, step) rows
(:func:`loss_and_gradients`); the rollout is sequential per prompt and parallel over prompts.

Looped modes (:func:`looped_loss_and_gradients`): the same layer applied K times to the
query column, which each loop *replaces* (the context is the n data columns and the current
query, ``G_t = G0 + z_t z_t^T / n``), ``z_{t+1} = z_t + V G_t W z_t``, ``z_0 = [0; 0; 0; 1]``;
``LOOPED`` puts the loss (1/2)||w(z_K) - w*||^2 on the final output only (Yang et al., ICLR
2024, arXiv 2311.12424; Gatmiry et al., ICML 2024), ``LOOPED_EVERY`` on every loop's output,
sum_{t=1..K} (1/2)||w(z_t) - w*||^2. The gradients are back-propagated through the loops:
with ``h_t = W z_t``, ``g_t = G_t h_t``, the adjoint ``lam_K = M (z_K - w*)`` and

    a = V^T lam_{t+1},   c_t = G_t a,
    lam_t = lam_{t+1} + W^T c_t + (1/n)[(z_t . h_t) a + h_t (z_t . a)]   (+ M (z_t - w*) if every loop),

    dL/dV = sum_t lam_{t+1} g_t^T,      dL/dW = sum_t c_t z_t^T

(derived here: ``g = G0 W z + z (z^T W z)/n`` has Jacobian ``G_t W + (1/n)[(z^T W z) I + z z^T W^T]``).
At K = 1 the final-output loss is the ``NO_COT`` loss.
"""
import numpy as np
from numba import prange

from theorytk._jit import kernel
from theorytk._splitmix import mix, normal_pair

COT, NO_COT, LOOPED, LOOPED_EVERY = 0, 1, 2, 3
ADAM, GD = 0, 1
BLOWUP = 1e100


@kernel
def _data_gram(X, y, D):
    """G = (1/n) sum_j [x_j; y_j; 0; 0][x_j; y_j; 0; 0]^T for one prompt (X: n x d)."""
    n, d = X.shape
    G = np.zeros((D, D))
    for j in range(n):
        for a in range(d + 1):
            ua = y[j] if a == d else X[j, a]
            for b in range(d + 1):
                ub = y[j] if b == d else X[j, b]
                G[a, b] += ua * ub / n
    return G


@kernel
def _add_column(G, z, n):
    D = z.shape[0]
    for a in range(D):
        for b in range(D):
            G[a, b] += z[a] * z[b] / n


@kernel
def _output(V, W, G, z, u, g, o):
    """u = W z, g = G u, o = z + V g (in the given buffers)."""
    D = z.shape[0]
    for a in range(D):
        acc = 0.0
        for b in range(D):
            acc += W[a, b] * z[b]
        u[a] = acc
    for a in range(D):
        acc = 0.0
        for b in range(D):
            acc += G[a, b] * u[b]
        g[a] = acc
    for a in range(D):
        acc = z[a]
        for b in range(D):
            acc += V[a, b] * g[b]
        o[a] = acc


@kernel
def _gd_step(X, w, wstar, eta, out):
    """out = w - eta S (w - w*), S = X^T X / n."""
    n, d = X.shape
    for a in range(d):
        out[a] = w[a]
    for j in range(n):
        proj = 0.0
        for a in range(d):
            proj += X[j, a] * (w[a] - wstar[a])
        for a in range(d):
            out[a] -= eta * X[j, a] * proj / n


@kernel(parallel=True)
def _columns(X, y, wstar, eta, k, mode, G0s, Zq, T):
    """Per prompt: the data Gram's (x, y) block G0 (d+1 x d+1), the queries and the targets.

    Teacher forcing makes every query known in advance: ``Zq[:, 0] = [0; 0; 0; 1]``,
    ``T[:, i] = [0; 0; w_{i+1}; 1]`` and ``Zq[:, i+1] = T[:, i]`` with the GD iterates
    ``w_{i+1} = w_i - eta (S w_i - S w*)``, ``S`` and ``S w* = X^T y / n`` read off G0. No-CoT:
    one query, target ``[0; 0; w*; 1]``.
    """
    B, n, d = X.shape
    D = 2 * d + 2
    for b in prange(B):
        G = G0s[b]
        for j in range(n):
            for a in range(d + 1):
                ua = y[b, j] if a == d else X[b, j, a]
                for c in range(d):
                    G[a, c] += ua * X[b, j, c] / n
                G[a, d] += ua * y[b, j] / n
        w = np.zeros(d)
        w_next = np.zeros(d)
        Zq[b, 0, D - 1] = 1.0
        for i in range(k):
            if mode == COT:
                for a in range(d):
                    acc = -G[a, d]
                    for c in range(d):
                        acc += G[a, c] * w[c]
                    w_next[a] = w[a] - eta * acc
            else:
                w_next[:] = wstar[b]
            T[b, i, D - 1] = 1.0
            for a in range(d):
                T[b, i, d + 1 + a] = w_next[a]
                w[a] = w_next[a]
            if i + 1 < k:
                Zq[b, i + 1, :] = T[b, i, :]


@kernel(parallel=True)
def _gram_times(G0s, Zq, U, n, out):
    """out[b, i] = G_i U[b, i] with G_i = [G0 0; 0 0] + (1/n) sum_{j <= i} Zq[b, j] Zq[b, j]^T.

    The CoT columns vanish on the (x, y) rows, so each term costs O(d) instead of O(D^2).
    """
    B, k, D = Zq.shape
    d1 = G0s.shape[1]
    for b in prange(B):
        for i in range(k):
            u = U[b, i]
            o = out[b, i]
            for a in range(d1):
                acc = 0.0
                for c in range(d1):
                    acc += G0s[b, a, c] * u[c]
                o[a] = acc
            for a in range(d1, D):
                o[a] = 0.0
            for j in range(i + 1):
                z = Zq[b, j]
                dot = 0.0
                for a in range(d1, D):
                    dot += z[a] * u[a]
                for a in range(d1, D):
                    o[a] += z[a] * dot / n


@kernel
def loss_and_gradients(V, W, X, y, wstar, eta, k, mode):
    """Mean loss over the prompts (X: B x n x d) and its gradients in V and W.

    The per-prompt structured parts (data Gram, GD targets, G_i u) run in parallel over
    prompts; the dense parts are matrix products over all (prompt, step) rows at once:
    ``U = Zq W^T``, ``O = Zq + g V^T``, ``H = R V``, ``dV = R^T g``, ``dW = (G H)^T Zq``.
    """
    B, n, d = X.shape
    D = 2 * d + 2
    steps = k if mode == COT else 1
    G0s = np.zeros((B, d + 1, d + 1))
    Zq = np.zeros((B, steps, D))
    T = np.zeros((B, steps, D))
    _columns(X, y, wstar, eta, steps, mode, G0s, Zq, T)
    Z2 = Zq.reshape(B * steps, D)
    U = np.dot(Z2, W.T.copy()).reshape(B, steps, D)
    g = np.empty((B, steps, D))
    _gram_times(G0s, Zq, U, n, g)
    g2 = g.reshape(B * steps, D)
    R = Z2 + np.dot(g2, V.T.copy()) - T.reshape(B * steps, D)
    if mode != COT:
        R[:, :d + 1] = 0.0
        R[:, D - 1] = 0.0
    loss = 0.5 * np.sum(R * R) / B
    gh = np.empty((B, steps, D))
    _gram_times(G0s, Zq, np.dot(R, V).reshape(B, steps, D), n, gh)
    gV = np.dot(R.T.copy(), g2) / B
    gW = np.dot(gh.reshape(B * steps, D).T.copy(), Z2) / B
    return loss, gV, gW


@kernel
def _matvec(M, x, out, transpose):
    """out = M x, or M^T x if ``transpose``."""
    D = x.shape[0]
    for i in range(D):
        acc = 0.0
        for j in range(D):
            acc += (M[j, i] if transpose else M[i, j]) * x[j]
        out[i] = acc


@kernel
def _gram_apply(G0, z, u, n, out):
    """out = G_t u with G_t = [G0 0; 0 0] + z z^T / n: G0 (the data Gram's (x, y) block, d+1 x d+1) costs
    O(d^2) instead of O(D^2), the query's own column a rank-one term."""
    d1 = G0.shape[0]
    D = z.shape[0]
    zu = 0.0
    for i in range(D):
        zu += z[i] * u[i]
    for i in range(D):
        out[i] = z[i] * zu / n
    for i in range(d1):
        acc = 0.0
        for j in range(d1):
            acc += G0[i, j] * u[j]
        out[i] += acc


@kernel(parallel=True)
def _looped_passes(V, W, X, y, wstar, K, every, Zs, Gs, Lam, Cs, per_prompt):
    """Forward K loops and back-propagate, per prompt (see the module docstring).

    Fills ``Zs[b, t] = z_t`` (t = 0..K-1), ``Gs[b, t] = g_t``, ``Lam[b, t] = lam_{t+1}``,
    ``Cs[b, t] = c_t`` and ``per_prompt[b]`` = the prompt's loss.
    """
    B, n, d = X.shape
    D = 2 * d + 2
    for b in prange(B):
        G0 = _data_gram(X[b], y[b], d + 1)
        H = np.zeros((K, D))
        outs = np.zeros((K, D))
        z = np.zeros(D)
        z[D - 1] = 1.0
        for t in range(K):
            Zs[b, t, :] = z
            _matvec(W, z, H[t], False)
            _gram_apply(G0, z, H[t], n, Gs[b, t])
            _matvec(V, Gs[b, t], outs[t], False)
            for i in range(D):
                outs[t, i] += z[i]
            z = outs[t]
        loss = 0.0
        lam = np.zeros(D)
        a = np.zeros(D)
        back = np.zeros(D)
        for t in range(K - 1, -1, -1):
            if every or t == K - 1:
                for i in range(d):
                    r = outs[t, d + 1 + i] - wstar[b, i]
                    lam[d + 1 + i] += r
                    loss += 0.5 * r * r
            Lam[b, t, :] = lam
            zt, ht = Zs[b, t], H[t]
            _matvec(V, lam, a, True)
            _gram_apply(G0, zt, a, n, Cs[b, t])
            _matvec(W, Cs[b, t], back, True)
            zh, za = 0.0, 0.0
            for i in range(D):
                zh += zt[i] * ht[i]
                za += zt[i] * a[i]
            for i in range(D):
                lam[i] += back[i] + (zh * a[i] + ht[i] * za) / n
        per_prompt[b] = loss


@kernel
def looped_loss_and_gradients(V, W, X, y, wstar, K, every):
    """Mean loss of the layer looped K times (final output, or every loop's output if
    ``every``) and its gradients in V and W: the per-prompt passes in parallel, then
    ``dV = Lam^T Gs``, ``dW = Cs^T Zs`` over all (prompt, loop) rows."""
    B, n, d = X.shape
    D = 2 * d + 2
    Zs, Gs = np.zeros((B, K, D)), np.zeros((B, K, D))
    Lam, Cs = np.zeros((B, K, D)), np.zeros((B, K, D))
    per_prompt = np.zeros(B)
    _looped_passes(V, W, X, y, wstar, K, every, Zs, Gs, Lam, Cs, per_prompt)
    gV = np.dot(Lam.reshape(B * K, D).T.copy(), Gs.reshape(B * K, D)) / B
    gW = np.dot(Cs.reshape(B * K, D).T.copy(), Zs.reshape(B * K, D)) / B
    return np.sum(per_prompt) / B, gV, gW


@kernel(parallel=True)
def rollout(V, W, X, y, wstar, steps, teacher_eta, looped):
    """Squared errors ||w_hat_i - w*||^2, i = 1..steps, per prompt (B x steps).

    Autoregressive (``teacher_eta = 0``): each output column is appended to the context and
    is the next query. ``teacher_eta > 0`` appends the gradient-descent iterate with that
    step instead (teacher forcing, as in the CoT loss), so every prediction is one step from
    the exact iterate. ``looped``: the output column replaces the query instead of being
    appended (context = data columns + current query; column i is the error after i + 1
    loops). Entries past a blow-up (|error| > BLOWUP or NaN) are NaN.
    """
    B, n, d = X.shape
    D = 2 * d + 2
    errors = np.full((B, steps), np.nan)
    for b in prange(B):
        G0 = _data_gram(X[b], y[b], D)
        G = G0.copy()
        z = np.zeros(D)
        z[D - 1] = 1.0
        u, g, o = np.zeros(D), np.zeros(D), np.zeros(D)
        w, w_next = np.zeros(d), np.zeros(d)
        for i in range(steps):
            if looped:
                G[:, :] = G0
            _add_column(G, z, n)
            _output(V, W, G, z, u, g, o)
            err = 0.0
            for a in range(d):
                diff = o[d + 1 + a] - wstar[b, a]
                err += diff * diff
            if not abs(err) <= BLOWUP:
                break
            errors[b, i] = err
            if teacher_eta > 0.0:
                _gd_step(X[b], w, wstar[b], teacher_eta, w_next)
                for a in range(D):
                    z[a] = 0.0
                z[D - 1] = 1.0
                for a in range(d):
                    z[d + 1 + a] = w_next[a]
                    w[a] = w_next[a]
            else:
                for a in range(D):
                    z[a] = o[a]
    return errors


@kernel(parallel=True)
def sample_prompts(X, y, wstar, scale, seed):
    """Fresh prompts in place, each from its own stream: ``w* ~ N(0, I)``, ``x ~ N(0, scale^2 I)``, ``y = X w*``.

    Prompt ``b`` reads the SplitMix64 stream ``mix(seed, b)`` (:mod:`theorytk._splitmix`):
    first the d entries of w*, then X row by row, in Box-Muller pairs (the second normal of
    the last pair is dropped when the count is odd). The prompts depend on ``seed`` and their
    index only, so they are the same on any number of threads;
    :func:`theorytk.icl.reference.sample_prompts` is the NumPy twin.
    """
    B, n, d = X.shape
    count = d + n * d
    for b in prange(B):
        state = mix(seed, np.uint64(b))
        second = 0.0
        for i in range(count):
            if i % 2 == 0:
                state, value, second = normal_pair(state)
            else:
                value = second
            if i < d:
                wstar[b, i] = value
            else:
                X[b, (i - d) // d, (i - d) % d] = scale * value
        for j in range(n):
            acc = 0.0
            for a in range(d):
                acc += X[b, j, a] * wstar[b, a]
            y[b, j] = acc


@kernel
def train(V, W, maskV, maskW, d, n, batch, step_seeds, k, eta, mode, optimizer, lr, scale, losses):
    """Train V, W in place on fresh prompts each step; returns the step of a blow-up or -1.

    Step ``s`` draws ``batch`` prompts with :func:`sample_prompts` under the 64-bit seed
    ``step_seeds[s]`` (x ~ N(0, scale^2 I), w* ~ N(0, I)), computes :func:`loss_and_gradients`
    (``COT``, ``NO_COT``; ``k`` CoT steps) or :func:`looped_loss_and_gradients` (``LOOPED``,
    ``LOOPED_EVERY``; ``k`` loops), multiplies the gradients by ``maskV``, ``maskW`` (1: trained,
    0: fixed) and applies Adam (beta = 0.9, 0.999, eps = 1e-8) or plain GD with rate ``lr``.
    ``losses[s]`` is the loss before the update.
    """
    D = 2 * d + 2
    X = np.zeros((batch, n, d))
    y = np.zeros((batch, n))
    wstar = np.zeros((batch, d))
    mV, vV, mW, vW = np.zeros((D, D)), np.zeros((D, D)), np.zeros((D, D)), np.zeros((D, D))
    b1, b2, tiny = 0.9, 0.999, 1e-8
    for s in range(step_seeds.shape[0]):
        sample_prompts(X, y, wstar, scale, step_seeds[s])
        if mode == LOOPED or mode == LOOPED_EVERY:
            loss, gV, gW = looped_loss_and_gradients(V, W, X, y, wstar, k, mode == LOOPED_EVERY)
        else:
            loss, gV, gW = loss_and_gradients(V, W, X, y, wstar, eta, k, mode)
        gV *= maskV
        gW *= maskW
        losses[s] = loss
        if not abs(loss) <= BLOWUP:
            return s
        if optimizer == GD:
            V -= lr * gV
            W -= lr * gW
            continue
        mV[:] = b1 * mV + (1 - b1) * gV
        vV[:] = b2 * vV + (1 - b2) * gV * gV
        mW[:] = b1 * mW + (1 - b1) * gW
        vW[:] = b2 * vW + (1 - b2) * gW * gW
        c1 = 1 - b1 ** (s + 1)
        c2 = 1 - b2 ** (s + 1)
        V -= lr * (mV / c1) / (np.sqrt(vV / c2) + tiny)
        W -= lr * (mW / c1) / (np.sqrt(vW / c2) + tiny)
    return -1
