"""Plain-NumPy twins of the DFIV kernels and closed forms: the executable specification.

* :func:`mlp_forward`, :func:`mlp_backward`, :func:`adam_step` have the signatures and
  in-place semantics of :mod:`theorytk.dfiv._kernels` (whole arrays, layer by layer, where
  the kernels cut the rows into blocks); ``MLP(..., backend="numpy")`` and
  ``DFIV(..., backend="numpy")`` run on them (tests assert equality, the benchmark reports
  the speed ratio).
* :func:`adam_steps` is the twin of :func:`theorytk.dfiv._stage_kernels.adam_steps` (the
  inner loops of DFIV's schedule): the network kernels above and :func:`feature_gradient`,
  composed from the production closed forms of :mod:`theorytk.dfiv.two_stage`;
* :func:`stage1_weights`, :func:`stage2_weights`, :func:`outcome_design` and
  :func:`envelope_gradients` are the closed forms of Xu et al. (ICLR 2021, arXiv
  2010.07154, Sec. 3-4; code ``liyuan9988/DeepFeatureIV``, ``fit_linear``/``fit_2sls``)
  written literally with ``numpy.linalg.solve`` and ``einsum``; :mod:`theorytk.dfiv.two_stage` is the production version.
"""
import numpy as np

from theorytk.dfiv import two_stage
from theorytk.dfiv._kernels import (BATCH_INV_STD, BATCH_MEAN, NORM_EPS, NORM_MOMENTUM, RUNNING_MEAN, RUNNING_VAR)


def _layers(params, sizes):
    """``[(W_l, b_l)]``: views of the flat parameter vector, layer by layer."""
    out, at = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        out.append((params[at:at + a * b].reshape(a, b), params[at + a * b:at + a * b + b]))
        at += a * b + b
    return out


def _norm_params(params, sizes, norm_at, layer):
    """``(gamma, beta)`` of normalised layer ``layer``: after the dense layers, 2 x width per normalised layer."""
    at = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])) + 2 * norm_at[layer]
    w = sizes[layer + 1]
    return params[at:at + w], params[at + w:at + 2 * w]


def _norm_view(buffer, sizes, norm_at, n, layer):
    """The (n, width) block of normalised layer ``layer`` in a flat (n C) buffer."""
    w = sizes[layer + 1]
    return buffer[n * norm_at[layer]:n * (norm_at[layer] + w)].reshape(n, w)


def _activation_views(acts, sizes, n):
    """``[a_1, ..., a_L]``: views of the flat activation buffer, layer by layer, (n, sizes[l]) each."""
    bounds = np.concatenate([[0], np.cumsum(n * np.asarray(sizes[1:]))])
    return [acts[bounds[l]:bounds[l + 1]].reshape(n, sizes[l + 1]) for l in range(len(sizes) - 1)]


def _activated(net, layer):
    return layer < len(net.sizes) - 2 or net.output_relu


def _normalize(net, layer, z, training):
    r"""Batch normalisation of the product z of layer ``layer`` (Ioffe & Szegedy 2015, Alg. 1; PyTorch's ``BatchNorm1d``).

    Training: :math:`\hat z = (z - \bar z)/\sqrt{\mathrm{var}(z) + \epsilon}` (biased variance),
    running mean and unbiased variance moved by :data:`~theorytk.dfiv._kernels.NORM_MOMENTUM`;
    evaluation: the running statistics in place of the batch's. Returns :math:`\gamma\hat z + \beta`.
    """
    n = z.shape[0]
    gamma, beta = _norm_params(net.params, net.sizes, net.norm_at, layer)
    cols = slice(net.norm_at[layer], net.norm_at[layer] + z.shape[1])
    stats = net.stats
    if training:
        mean, var = z.mean(axis=0), z.var(axis=0)
        stats[BATCH_MEAN, cols], stats[BATCH_INV_STD, cols] = mean, 1.0 / np.sqrt(var + NORM_EPS)
        stats[RUNNING_MEAN, cols] = (1 - NORM_MOMENTUM) * stats[RUNNING_MEAN, cols] + NORM_MOMENTUM * mean
        stats[RUNNING_VAR, cols] = (1 - NORM_MOMENTUM) * stats[RUNNING_VAR, cols] + NORM_MOMENTUM * var * n / (n - 1)
        zhat = (z - mean) / np.sqrt(var + NORM_EPS)
        _norm_view(net.normalized, net.sizes, net.norm_at, n, layer)[...] = zhat
    else:
        zhat = (z - stats[RUNNING_MEAN, cols]) / np.sqrt(stats[RUNNING_VAR, cols] + NORM_EPS)
    return gamma * zhat + beta


def mlp_forward(net, training):
    """Fill the activations of layers 1..L: ``a_{l+1} = act(norm(a_l W_l + b_l))``, whole arrays, layer by layer."""
    layers = _layers(net.params, net.sizes)
    a = net.x
    for l, ((w, b), out) in enumerate(zip(layers, _activation_views(net.acts, net.sizes, net.x.shape[0]))):
        pre = a @ w + b
        if net.norm_at[l] >= 0:
            pre = _normalize(net, l, pre, training)
        out[...] = np.maximum(pre, 0.0) if _activated(net, l) else pre
        a = out


def backward_scratch(sizes, n, norm_columns=0):
    """None: the twin allocates its temporaries as it goes (the kernels' work arrays, :func:`theorytk.dfiv._kernels.backward_scratch`)."""
    return None


def mlp_backward(net, grad_out, grad, scratch=None):
    r"""dL/dparams into ``grad`` by the chain rule, layer by layer (``scratch`` is unused).

    After a training-mode forward pass if ``net`` has normalised layers: there
    :math:`\partial L/\partial\gamma = \sum_i g_i\hat z_i`, :math:`\partial L/\partial\beta = \sum_i g_i`
    and :math:`\partial L/\partial z = \gamma\sigma_B^{-1}(g - \bar g - \hat z\,\overline{g\hat z})`
    (the chain rule through Alg. 1 of Ioffe & Szegedy 2015, simplified here and checked against sympy's derivative
    in ``tests/unit/test_dfiv_batchnorm.py``), with g = dL/d(normalised output) and bars the means over rows.
    """
    layers = _layers(net.params, net.sizes)
    grads = _layers(grad, net.sizes)
    n = net.x.shape[0]
    views = [net.x] + _activation_views(net.acts, net.sizes, n)
    g = grad_out.copy()
    for l in range(len(layers) - 1, -1, -1):
        if _activated(net, l):
            g[views[l + 1] <= 0.0] = 0.0
        if net.norm_at[l] >= 0:
            zhat = _norm_view(net.normalized, net.sizes, net.norm_at, n, l)
            gamma, _ = _norm_params(net.params, net.sizes, net.norm_at, l)
            d_gamma, d_beta = _norm_params(grad, net.sizes, net.norm_at, l)
            d_gamma[...], d_beta[...] = (g * zhat).sum(axis=0), g.sum(axis=0)
            inv_std = net.stats[BATCH_INV_STD, net.norm_at[l]:net.norm_at[l] + g.shape[1]]
            g = gamma * inv_std * (g - g.mean(axis=0) - zhat * (g * zhat).mean(axis=0))
        grads[l][1][...] = g.sum(axis=0)
        grads[l][0][...] = views[l].T @ g
        g = g @ layers[l][0].T


def adam_step(params, state, hyper, t):
    """One Adam update in place (PyTorch's form, coupled weight decay); ``state``, ``hyper`` as in :mod:`~theorytk.dfiv._kernels`."""
    g = state.grad + hyper.weight_decay * params
    state.m[...] = hyper.beta1 * state.m + (1.0 - hyper.beta1) * g
    state.v[...] = hyper.beta2 * state.v + (1.0 - hyper.beta2) * g**2
    m_hat = state.m / (1.0 - hyper.beta1**t)
    v_hat = state.v / (1.0 - hyper.beta2**t)
    params -= hyper.lr * m_hat / (np.sqrt(v_hat) + hyper.eps)


def scratch(loss, k_features):
    """No work arrays (``aug`` and ``grams`` None): the twin allocates as it goes (the kernel's: :func:`theorytk.dfiv._stage_kernels.scratch`)."""
    return None, None


def feature_gradient(kind, features, predicted, targets, lam):
    """dL/d(features) of the profiled loss ``kind`` (features without their ones column; see :func:`adam_steps`)."""
    if kind == two_stage.STAGE1_LOSS:
        phi = two_stage.with_intercept(features)
        return two_stage.stage1_gradient(phi, targets, two_stage.ridge_solve(phi, targets, lam))[:, :-1]
    return two_stage.covariate_gradient(two_stage.solve_stage2(predicted, targets[:, 0], lam, features))


def adam_steps(net, scratch, state, hyper, t, iters, loss, work):
    """``iters`` Adam steps of a feature network on a profiled ridge loss: forward (training mode), loss gradient, backward, update.

    The arguments are those of :func:`theorytk.dfiv._stage_kernels.adam_steps` (``scratch``
    and the work arrays after ``work.feature_grad`` are unused).
    """
    for step in range(iters):
        mlp_forward(net, True)
        features = _activation_views(net.acts, net.sizes, net.x.shape[0])[-1]
        work.feature_grad[...] = feature_gradient(loss.kind, features, loss.predicted, loss.targets, loss.lam)
        mlp_backward(net, work.feature_grad, state.grad)
        adam_step(net.params, state, hyper, t + step + 1)


def stage1_weights(instrument_features, treatment_features, lam1):
    r""":math:`\hat V^\top = (\Phi^\top\Phi + n\lambda_1 I)^{-1}\Phi^\top\Psi` (instrument intercept already appended)."""
    phi, psi = instrument_features, treatment_features
    n = phi.shape[0]
    return np.linalg.solve(phi.T @ phi + n * lam1 * np.eye(phi.shape[1]), phi.T @ psi)


def stage2_weights(design, y, lam2):
    r""":math:`\hat u = (F^\top F + m\lambda_2 I)^{-1}F^\top y`."""
    f = design
    m = f.shape[0]
    return np.linalg.solve(f.T @ f + m * lam2 * np.eye(f.shape[1]), f.T @ y)


def outcome_design(predicted, covariates=None):
    r""":math:`F_{i,(a,b)} = [\text{predicted}, 1]_{ia}\,[\text{covariates}, 1]_{ib}` (C = 1 without covariates)."""
    m = predicted.shape[0]
    p = np.column_stack([predicted, np.ones(m)])
    c = np.ones((m, 1)) if covariates is None else np.column_stack([covariates, np.ones(m)])
    return np.einsum("ia,ib->iab", p, c).reshape(m, -1), p, c


def envelope_gradients(phi1, psi1, phi2, y2, lam1, lam2, covariates=None):
    r"""dL2/dPsi1 and dL2/dXi2 (None without covariates) of the profiled stage-2 loss, written out.

    :math:`L_2 = \frac1m\|y - F\hat u\|^2 + \lambda_2\|\hat u\|^2`; :math:`\partial L_2/\partial F =
    -\frac2m r\hat u^\top`, pulled back through :math:`F_{i,(a,b)} = P_{ia}C_{ib}` by the chain rule,
    then :math:`\partial L_2/\partial\Psi_1 = \Phi_1(\Phi_1^\top\Phi_1 + n\lambda_1 I)^{-1}\Phi_2^\top
    \partial L_2/\partial P_{:, :k_x}`.
    """
    n, m, kx = phi1.shape[0], phi2.shape[0], psi1.shape[1]
    vt = stage1_weights(phi1, psi1, lam1)
    f, p, c = outcome_design(phi2 @ vt, covariates)
    u = stage2_weights(f, y2, lam2)
    r = y2 - f @ u
    d_f = (-(2.0 / m) * np.outer(r, u)).reshape(m, p.shape[1], c.shape[1])
    d_p = np.einsum("iab,ib->ia", d_f, c)
    d_c = np.einsum("iab,ia->ib", d_f, p)
    a = phi1 @ np.linalg.inv(phi1.T @ phi1 + n * lam1 * np.eye(phi1.shape[1]))
    return a @ (phi2.T @ d_p[:, :kx]), None if covariates is None else d_c[:, :-1]
