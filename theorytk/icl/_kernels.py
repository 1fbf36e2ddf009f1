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
Prompts are independent, so the loss and gradients run in parallel over prompts into
per-prompt buffers, summed afterwards in a fixed order (bit-identical on any thread count).
"""
import numpy as np
from numba import prange

from theorytk._jit import kernel

COT, NO_COT = 0, 1
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


@kernel
def _prompt_loss_grad(V, W, X, y, wstar, eta, k, mode, gV, gW):
    """Loss of one prompt; its gradients are added into gV, gW (D x D)."""
    n, d = X.shape
    D = 2 * d + 2
    G = _data_gram(X, y, D)
    z = np.zeros(D)
    z[D - 1] = 1.0
    u, g, o, t, r, h = np.zeros(D), np.zeros(D), np.zeros(D), np.zeros(D), np.zeros(D), np.zeros(D)
    w, w_next = np.zeros(d), np.zeros(d)
    loss = 0.0
    steps = k if mode == COT else 1
    for i in range(steps):
        _add_column(G, z, n)
        _output(V, W, G, z, u, g, o)
        if mode == COT:
            _gd_step(X, w, wstar, eta, w_next)
        for a in range(D):
            t[a] = 0.0
        t[D - 1] = 1.0
        for a in range(d):
            t[d + 1 + a] = w_next[a] if mode == COT else wstar[a]
        for a in range(D):
            in_mask = mode == COT or (a > d and a < D - 1)
            r[a] = o[a] - t[a] if in_mask else 0.0
            loss += 0.5 * r[a] * r[a]
        for a in range(D):            # h = V^T r
            acc = 0.0
            for b in range(D):
                acc += V[b, a] * r[b]
            h[a] = acc
        for a in range(D):
            gh = 0.0
            for b in range(D):
                gh += G[a, b] * h[b]
            for b in range(D):
                gV[a, b] += r[a] * g[b]
                gW[a, b] += gh * z[b]
        if mode == COT:                # teacher forcing: the next column is the target
            for a in range(D):
                z[a] = t[a]
            for a in range(d):
                w[a] = w_next[a]
    return loss


@kernel(parallel=True)
def loss_and_gradients(V, W, X, y, wstar, eta, k, mode):
    """Mean loss over the prompts (X: B x n x d) and its gradients in V and W."""
    B = X.shape[0]
    D = V.shape[0]
    losses = np.zeros(B)
    gVs = np.zeros((B, D, D))
    gWs = np.zeros((B, D, D))
    for b in prange(B):
        losses[b] = _prompt_loss_grad(V, W, X[b], y[b], wstar[b], eta, k, mode, gVs[b], gWs[b])
    gV = np.zeros((D, D))
    gW = np.zeros((D, D))
    for b in range(B):
        gV += gVs[b]
        gW += gWs[b]
    return losses.sum() / B, gV / B, gW / B


@kernel(parallel=True)
def rollout(V, W, X, y, wstar, steps, teacher_eta):
    """Squared errors ||w_hat_i - w*||^2, i = 1..steps, per prompt (B x steps).

    Autoregressive (``teacher_eta = 0``): each output column is appended to the context and
    is the next query. ``teacher_eta > 0`` appends the gradient-descent iterate with that
    step instead (teacher forcing, as in the CoT loss), so every prediction is one step from
    the exact iterate. Entries past a blow-up (|error| > BLOWUP or NaN) are NaN.
    """
    B, n, d = X.shape
    D = 2 * d + 2
    errors = np.full((B, steps), np.nan)
    for b in prange(B):
        G = _data_gram(X[b], y[b], D)
        z = np.zeros(D)
        z[D - 1] = 1.0
        u, g, o = np.zeros(D), np.zeros(D), np.zeros(D)
        w, w_next = np.zeros(d), np.zeros(d)
        for i in range(steps):
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


@kernel
def _sample_prompts(X, y, wstar, scale):
    B, n, d = X.shape
    for b in range(B):
        for a in range(d):
            wstar[b, a] = np.random.standard_normal()
        for j in range(n):
            acc = 0.0
            for a in range(d):
                X[b, j, a] = scale * np.random.standard_normal()
                acc += X[b, j, a] * wstar[b, a]
            y[b, j] = acc


@kernel
def train(V, W, d, n, batch, step_seeds, k, eta, mode, optimizer, lr, scale, losses):
    """Train V, W in place on fresh prompts each step; returns the step of a blow-up or -1.

    Step ``s`` draws ``batch`` prompts from numba's generator seeded by ``step_seeds[s]``
    (x ~ N(0, scale^2 I), w* ~ N(0, I)), computes :func:`loss_and_gradients` and applies
    Adam (beta = 0.9, 0.999, eps = 1e-8) or plain GD with rate ``lr``. ``losses[s]`` is the
    loss before the update.
    """
    D = 2 * d + 2
    X = np.zeros((batch, n, d))
    y = np.zeros((batch, n))
    wstar = np.zeros((batch, d))
    mV, vV, mW, vW = np.zeros((D, D)), np.zeros((D, D)), np.zeros((D, D)), np.zeros((D, D))
    b1, b2, tiny = 0.9, 0.999, 1e-8
    for s in range(step_seeds.shape[0]):
        np.random.seed(step_seeds[s])
        _sample_prompts(X, y, wstar, scale)
        loss, gV, gW = loss_and_gradients(V, W, X, y, wstar, eta, k, mode)
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
