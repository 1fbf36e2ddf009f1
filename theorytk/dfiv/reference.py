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


def _layers(params, sizes):
    """``[(W_l, b_l)]``: views of the flat parameter vector, layer by layer."""
    out, at = [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        out.append((params[at:at + a * b].reshape(a, b), params[at + a * b:at + a * b + b]))
        at += a * b + b
    return out


def _activation_views(acts, sizes, n):
    """``[a_1, ..., a_L]``: views of the flat activation buffer, layer by layer, (n, sizes[l]) each."""
    bounds = np.concatenate([[0], np.cumsum(n * np.asarray(sizes[1:]))])
    return [acts[bounds[l]:bounds[l + 1]].reshape(n, sizes[l + 1]) for l in range(len(sizes) - 1)]


def mlp_forward(x, params, sizes, output_relu, acts):
    """Fill the activations of layers 1..L: ``a_{l+1} = act(a_l W_l + b_l)``, whole arrays, layer by layer."""
    layers = _layers(params, sizes)
    a = x
    for l, ((w, b), out) in enumerate(zip(layers, _activation_views(acts, sizes, x.shape[0]))):
        pre = a @ w + b
        out[...] = np.maximum(pre, 0.0) if (l < len(layers) - 1 or output_relu) else pre
        a = out


def backward_scratch(sizes, n):
    """None: the twin allocates its temporaries as it goes (the kernels' work arrays, :func:`theorytk.dfiv._kernels.backward_scratch`)."""
    return None


def mlp_backward(x, params, sizes, output_relu, acts, grad_out, grad, scratch=None):
    """dL/dparams into ``grad`` by the chain rule, layer by layer (``scratch`` is unused)."""
    layers = _layers(params, sizes)
    grads = _layers(grad, sizes)
    views = [x] + _activation_views(acts, sizes, x.shape[0])
    g = grad_out.copy()
    for l in range(len(layers) - 1, -1, -1):
        if l < len(layers) - 1 or output_relu:
            g[views[l + 1] <= 0.0] = 0.0
        grads[l][1][...] = g.sum(axis=0)
        grads[l][0][...] = views[l].T @ g
        g = g @ layers[l][0].T


def adam_step(params, grad, m, v, hyper, t):
    """One Adam update in place (PyTorch's form, coupled weight decay); ``hyper = (lr, beta1, beta2, eps, weight_decay)``."""
    lr, beta1, beta2, eps, weight_decay = hyper
    g = grad + weight_decay * params
    m[...] = beta1 * m + (1.0 - beta1) * g
    v[...] = beta2 * v + (1.0 - beta2) * g**2
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    params -= lr * m_hat / (np.sqrt(v_hat) + eps)


def scratch(loss, k_features):
    """No work arrays: the twin allocates as it goes (the kernel's: :func:`theorytk.dfiv._stage_kernels.scratch`)."""
    return ()


def feature_gradient(kind, features, predicted, targets, lam):
    """dL/d(features) of the profiled loss ``kind`` (features without their ones column; see :func:`adam_steps`)."""
    if kind == two_stage.STAGE1_LOSS:
        phi = two_stage.with_intercept(features)
        return two_stage.stage1_gradient(phi, targets, two_stage.ridge_solve(phi, targets, lam))[:, :-1]
    return two_stage.covariate_gradient(two_stage.solve_stage2(predicted, targets[:, 0], lam, features))


def adam_steps(network, scratch, state, hyper, t, iters, loss, work):
    """``iters`` Adam steps of a feature network on a profiled ridge loss: forward, loss gradient, backward, update.

    The arguments are those of :func:`theorytk.dfiv._stage_kernels.adam_steps` (``scratch``
    and the work arrays after ``work[0]`` are unused).
    """
    x, params, sizes, output_relu, acts = network
    grad, m, v = state
    kind, predicted, targets, lam = loss
    feature_grad = work[0]
    for step in range(iters):
        mlp_forward(x, params, sizes, output_relu, acts)
        features = _activation_views(acts, sizes, x.shape[0])[-1]
        feature_grad[...] = feature_gradient(kind, features, predicted, targets, lam)
        mlp_backward(x, params, sizes, output_relu, acts, feature_grad, grad)
        adam_step(params, grad, m, v, hyper, t + step + 1)


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
