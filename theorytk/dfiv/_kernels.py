"""Numba kernels for the small multilayer perceptrons of DFIV: whole-network forward, backward, Adam.

A feature network is a chain of dense layers ``a_{l+1} = act(a_l W_l + b_l)`` (ReLU on the
hidden layers, ReLU or the identity on the last), optionally with batch normalisation
between a layer's product and its activation (:func:`normalize_rows`). All weights and biases live in one flat
parameter vector, layer by layer (``W_l`` row-major, then ``b_l``), followed by the scales and
shifts of the normalised layers (:func:`norm_params`); ``sizes`` holds the layer widths. The
activations of every layer live in one flat buffer, layer by layer, each an ``(n, sizes[l])``
row-major block (:func:`layer_activations`). A network is passed as a :class:`Network`.

The rows are cut into blocks of at most :data:`BLOCK` rows and equal size to within a row
(:func:`block_rows`), and each block runs through *all* layers on one thread (``prange``):
the block's activations stay in cache between layers, the bias is the accumulators'
starting value, and the ReLU (forward) or its derivative (backward) is applied to each
result tile as it is stored. The products are the register-tiled ones of
:mod:`theorytk._gemm` (not BLAS: a pthreads OpenBLAS called from two numba threads at once ran each call about
four times slower here). The backward pass writes each block's weight gradient into its
own row of a ``(n_blocks, n_params)`` scratch array and then sums the rows *in block
order*; the block partition depends only on n, so the result is the same on any number of
threads. A batch-normalised layer in training mode needs statistics of all rows, in both
directions, so there the pass stops, the blocks' moments (forward) or sums (backward) are
merged in block order, and the next parallel pass continues from that layer
(:func:`forward_segments`, :func:`backward_segments`).

The row-block pieces (:func:`forward_rows`, :func:`final_rows`, :func:`backward_rows`,
:func:`sum_blocks`, :func:`adam_update`) are public so that
:func:`theorytk.dfiv._stage_kernels.adam_steps` can fuse them with a loss gradient into
whole Adam steps.

No validation: :mod:`theorytk.dfiv.features` checks inputs. The plain-NumPy twins are in
:mod:`theorytk.dfiv.reference`.
"""
from collections import namedtuple

import numpy as np
from numba import config, get_thread_id, prange

from theorytk._gemm import GATE, PLAIN, RELU, column_sums, gemm_nn, gemm_tn
from theorytk._jit import kernel

BLOCK = 128
"""Rows per block, at most: a 128 x 128 activation block (128 KiB) stays in L2 across layers."""

NORM_MOMENTUM = 0.1
"""Weight of the newest batch in the running statistics (PyTorch's ``BatchNorm1d`` default)."""
NORM_EPS = 1e-5
"""Added to the variance before its square root (PyTorch's ``BatchNorm1d`` default)."""
RUNNING_MEAN, RUNNING_VAR, BATCH_MEAN, BATCH_INV_STD = 0, 1, 2, 3
r"""Rows of :attr:`Network.stats`: the running mean and (unbiased) variance used in evaluation, and
the mean and :math:`1/\sqrt{\sigma^2_B + \epsilon}` of the last training-mode batch (used by backward)."""

Network = namedtuple("Network", "x params sizes output_relu acts norm_at stats normalized moments")
Network.__doc__ = r"""A feature network as the kernels take it (a tuple numba types by field).

x : (n, sizes[0]) inputs. params : flat parameters. sizes : int64 widths. output_relu : bool.
acts : flat activations (:func:`layer_activations`). norm_at : int64 (layers,), -1 for a
plain layer, else the offset of the layer's columns among all normalised columns (C in all).
stats : (4, C) (:data:`RUNNING_MEAN` ...). normalized : flat (n C) buffer of
:math:`\hat z` of the normalised layers, layer by layer (written in training mode).
moments : (n_blocks, 2, C) work array of the blocks' means and sums of squared deviations.
"""

BackwardScratch = namedtuple("BackwardScratch", "deltas partial weights_t norm_grad")
BackwardScratch.__doc__ = """Work arrays of :func:`mlp_backward` (:func:`backward_scratch`)."""

AdamState = namedtuple("AdamState", "grad m v")
AdamState.__doc__ = """The gradient and Adam's first and second moments, flat like the parameters."""

AdamHyper = namedtuple("AdamHyper", "lr beta1 beta2 eps weight_decay")
AdamHyper.__doc__ = """Adam's hyperparameters, all floats (one compiled signature)."""


@kernel
def n_blocks(n):
    """Number of row blocks of n rows: ``ceil(n / BLOCK)``."""
    return (n + BLOCK - 1) // BLOCK


@kernel
def block_rows(n, blk):
    """Rows ``[i0, i1)`` of block ``blk``: the n rows cut into :func:`n_blocks` blocks whose sizes
    differ by at most one (2500 rows: 20 blocks of 125, so two threads get equal work). The cut
    depends only on n, never on the thread count."""
    count = n_blocks(n)
    return blk * n // count, (blk + 1) * n // count


@kernel
def linear_size(sizes):
    """Number of weights and biases of the dense layers (the normalisation parameters follow them)."""
    at = 0
    for l in range(sizes.size - 1):
        at += sizes[l] * sizes[l + 1] + sizes[l + 1]
    return at


@kernel
def _layer(params, sizes, layer):
    """Views ``(W, b)`` of layer ``layer`` in the flat parameter vector."""
    at = 0
    for l in range(layer):
        at += sizes[l] * sizes[l + 1] + sizes[l + 1]
    a, b = sizes[layer], sizes[layer + 1]
    return params[at:at + a * b].reshape((a, b)), params[at + a * b:at + a * b + b]


@kernel
def norm_params(params, sizes, norm_at, layer):
    """Views ``(gamma, beta)`` of normalised layer ``layer``: after the dense layers, 2 x width per normalised layer."""
    at = linear_size(sizes) + 2 * norm_at[layer]
    w = sizes[layer + 1]
    return params[at:at + w], params[at + w:at + 2 * w]


@kernel
def layer_activations(buffer, sizes, n, layer):
    r"""The ``(n, sizes[layer])`` block of layer ``layer`` (>= 1) in a flat buffer of n rows per layer.

    Layer l starts at :math:`n\sum_{1 \le m < l} \text{sizes}[m]`: the layout of the
    activations (n = all rows) and of a block's deltas (n = the block's rows).
    """
    at = 0
    for l in range(1, layer):
        at += n * sizes[l]
    return buffer[at:at + n * sizes[layer]].reshape((n, sizes[layer]))


@kernel
def norm_rows(buffer, sizes, norm_at, n, layer):
    """The ``(n, sizes[layer + 1])`` block of normalised layer ``layer`` in a flat (n C) buffer."""
    w = sizes[layer + 1]
    return buffer[n * norm_at[layer]:n * (norm_at[layer] + w)].reshape((n, w))


@kernel
def _activated(net, layer):
    """Whether layer ``layer``'s output goes through a ReLU."""
    return layer < net.sizes.size - 2 or net.output_relu


@kernel
def forward_rows(net, i0, i1, first, stop, training):
    """Rows ``[i0, i1)`` through layers ``first .. stop - 1`` (one thread; the rows stay in cache).

    A normalised layer in evaluation mode applies the running statistics here; in training
    mode it must be the last layer of the range: its product is left unnormalised for
    :func:`normalize_rows`, once the statistics of all rows are known.
    """
    n = net.x.shape[0]
    for l in range(first, stop):
        w, b = _layer(net.params, net.sizes, l)
        out = layer_activations(net.acts, net.sizes, n, l + 1)
        below = net.x if l == 0 else layer_activations(net.acts, net.sizes, n, l)
        if net.norm_at[l] < 0:
            gemm_nn(below, w, b, out, i0, i1, RELU if _activated(net, l) else PLAIN, out)
            continue
        gemm_nn(below, w, b, out, i0, i1, PLAIN, out)
        if training:
            continue
        gamma, beta = norm_params(net.params, net.sizes, net.norm_at, l)
        c = net.norm_at[l]
        relu = _activated(net, l)
        for j in range(out.shape[1]):
            scale = gamma[j] / np.sqrt(net.stats[RUNNING_VAR, c + j] + NORM_EPS)
            shift = beta[j] - scale * net.stats[RUNNING_MEAN, c + j]
            for i in range(i0, i1):
                v = scale * out[i, j] + shift
                out[i, j] = max(v, 0.0) if relu else v


@kernel
def block_moments(net, layer, blk, i0, i1):
    """Mean and sum of squared deviations of each column of layer ``layer``'s product over rows [i0, i1)."""
    n = net.x.shape[0]
    out = layer_activations(net.acts, net.sizes, n, layer + 1)
    c = net.norm_at[layer]
    for j in range(out.shape[1]):
        total = 0.0
        for i in range(i0, i1):
            total += out[i, j]
        mean = total / (i1 - i0)
        squares = 0.0
        for i in range(i0, i1):
            squares += (out[i, j] - mean) ** 2
        net.moments[blk, 0, c + j] = mean
        net.moments[blk, 1, c + j] = squares


@kernel(fastmath=False)
def batch_statistics(net, layer):
    r"""Merge the blocks' moments in block order; update the running statistics of layer ``layer``.

    Chan, Golub & LeVeque (1979) pairwise update: blocks of :math:`n_a` and :math:`n_b` rows
    with means :math:`m_a, m_b` and sums of squared deviations :math:`M_a, M_b` merge into
    :math:`m = m_a + \delta n_b/(n_a+n_b)`, :math:`M = M_a + M_b + \delta^2 n_a n_b/(n_a+n_b)`,
    :math:`\delta = m_b - m_a`. Then, as PyTorch's ``BatchNorm1d`` in training mode (Ioffe &
    Szegedy 2015, Alg. 1): batch variance :math:`\sigma^2_B = M/n` normalises, and the running
    variance moves towards the unbiased :math:`M/(n-1)` with weight :data:`NORM_MOMENTUM`.
    """
    n = net.x.shape[0]
    c = net.norm_at[layer]
    for j in range(net.sizes[layer + 1]):
        count, mean, squares = 0, 0.0, 0.0
        for blk in range(n_blocks(n)):
            i0, i1 = block_rows(n, blk)
            rows = i1 - i0
            delta = net.moments[blk, 0, c + j] - mean
            total = count + rows
            mean += delta * rows / total
            squares += net.moments[blk, 1, c + j] + delta * delta * count * rows / total
            count = total
        var = squares / n
        net.stats[BATCH_MEAN, c + j] = mean
        net.stats[BATCH_INV_STD, c + j] = 1.0 / np.sqrt(var + NORM_EPS)
        net.stats[RUNNING_MEAN, c + j] = (1.0 - NORM_MOMENTUM) * net.stats[RUNNING_MEAN, c + j] + NORM_MOMENTUM * mean
        net.stats[RUNNING_VAR, c + j] = ((1.0 - NORM_MOMENTUM) * net.stats[RUNNING_VAR, c + j]
                                         + NORM_MOMENTUM * squares / (n - 1))


@kernel
def normalize_rows(net, layer, i0, i1):
    r""":math:`\hat z = (z - \mu_B)/\sqrt{\sigma^2_B + \epsilon}` into ``normalized`` and :math:`\mathrm{act}(\gamma\hat z + \beta)`
    into the activations, for rows [i0, i1) of layer ``layer`` (training mode; Ioffe & Szegedy 2015, Alg. 1)."""
    n = net.x.shape[0]
    out = layer_activations(net.acts, net.sizes, n, layer + 1)
    zhat = norm_rows(net.normalized, net.sizes, net.norm_at, n, layer)
    gamma, beta = norm_params(net.params, net.sizes, net.norm_at, layer)
    c = net.norm_at[layer]
    relu = _activated(net, layer)
    for i in range(i0, i1):
        for j in range(out.shape[1]):
            h = (out[i, j] - net.stats[BATCH_MEAN, c + j]) * net.stats[BATCH_INV_STD, c + j]
            zhat[i, j] = h
            v = gamma[j] * h + beta[j]
            out[i, j] = max(v, 0.0) if relu else v


@kernel(parallel=True)
def forward_segments(net):
    """Training mode: every layer up to and including the last normalised one (all rows); returns the next layer.

    Each segment of layers that ends at a normalised layer is one parallel pass over the row
    blocks (the previous normalisation, then the layers), followed by the merge of the
    blocks' moments. The rest, :func:`final_rows` from the layer returned, is left to the
    caller, which may fuse it with its own per-block work.
    """
    n = net.x.shape[0]
    first = 0
    for l in range(net.sizes.size - 1):
        if net.norm_at[l] < 0:
            continue
        for blk in prange(n_blocks(n)):
            i0, i1 = block_rows(n, blk)
            if first > 0:
                normalize_rows(net, first - 1, i0, i1)
            forward_rows(net, i0, i1, first, l + 1, True)
            block_moments(net, l, blk, i0, i1)
        batch_statistics(net, l)
        first = l + 1
    return first


@kernel
def final_rows(net, first, i0, i1, training):
    """Rows [i0, i1) from layer ``first`` to the output (after :func:`forward_segments` in training mode)."""
    if training and first > 0:
        normalize_rows(net, first - 1, i0, i1)
    forward_rows(net, i0, i1, first, net.sizes.size - 1, training)


@kernel(parallel=True)
def mlp_forward(net, training):
    """Fill the activations of layers 1..L for the inputs ``net.x``; ``training``: batch statistics (updating the running ones)."""
    n = net.x.shape[0]
    first = forward_segments(net) if training else 0
    for blk in prange(n_blocks(n)):
        i0, i1 = block_rows(n, blk)
        final_rows(net, first, i0, i1, training)


@kernel
def transpose_weights(params, sizes, weights_t):
    """``W_l^T`` of every layer into ``weights_t``, stored as the layers of the reversed network."""
    layers = sizes.size - 1
    for l in range(layers):
        w, _ = _layer(params, sizes, l)
        wt, _ = _layer(weights_t, sizes[::-1], layers - 1 - l)
        wt[...] = w.T


@kernel
def _stop_at_norm(net, scratch, partial_row, delta, layer, i0):
    r"""Keep :math:`g = \partial L/\partial y` of normalised layer ``layer`` for rows i0 + [0, len(delta)) and add
    the block's :math:`\sum g\hat z` and :math:`\sum g` (its gradients of gamma and beta) to ``partial_row``."""
    n = net.x.shape[0]
    kept = norm_rows(scratch.norm_grad, net.sizes, net.norm_at, n, layer)
    zhat = norm_rows(net.normalized, net.sizes, net.norm_at, n, layer)
    ggamma, gbeta = norm_params(partial_row, net.sizes, net.norm_at, layer)
    for j in range(delta.shape[1]):
        s_g, s_gz = 0.0, 0.0
        for r in range(delta.shape[0]):
            g = delta[r, j]
            kept[i0 + r, j] = g
            s_g += g
            s_gz += g * zhat[i0 + r, j]
        ggamma[j] = s_gz
        gbeta[j] = s_g


@kernel
def backward_rows(net, scratch, partial_row, deltas, i0, i1, top):
    r"""Backward pass of rows i0:i1 from layer ``top`` down; their weight gradients into ``partial_row``.

    On entry ``deltas`` holds :math:`\partial L/\partial z` of layer ``top``'s product z for
    these rows (:func:`top_rows` and :func:`norm_backward_rows` put it there). The pass runs
    down to layer 0, or stops at the next normalised layer below (:func:`_stop_at_norm`).
    ``deltas`` is the calling thread's work buffer: dL/d(pre-activation) of each layer for
    these rows, laid out like the activations of ``i1 - i0`` rows (:func:`layer_activations`),
    so a thread reuses the same few hundred KiB, in its own cache, for every block it takes.
    """
    n, rows = net.x.shape[0], i1 - i0
    sizes = net.sizes
    layers = sizes.size - 1
    for l in range(top, -1, -1):
        delta = layer_activations(deltas, sizes, rows, l + 1)
        gw, gb = _layer(partial_row, sizes, l)
        column_sums(delta, gb, 0, rows)
        below = net.x[i0:i1] if l == 0 else layer_activations(net.acts, sizes, n, l)[i0:i1]
        gemm_tn(below, delta, gw, 0, rows)
        if l == 0:
            return
        wt, bt = _layer(scratch.weights_t, sizes[::-1], layers - 1 - l)
        lower = layer_activations(deltas, sizes, rows, l)
        gemm_nn(delta, wt, bt, lower, 0, rows, GATE, below)
        if net.norm_at[l - 1] >= 0:
            _stop_at_norm(net, scratch, partial_row, lower, l - 1, i0)
            return


@kernel
def top_rows(net, scratch, grad_out, partial_row, deltas, i0, i1):
    """Rows i0:i1 of the backward pass from dL/d(features) ``grad_out`` (n, sizes[-1]) down to layer 0 or a normalised layer."""
    sizes = net.sizes
    layers = sizes.size - 1
    rows = i1 - i0
    last = layer_activations(deltas, sizes, rows, layers)
    out = layer_activations(net.acts, sizes, net.x.shape[0], layers)
    for r in range(rows):
        for j in range(last.shape[1]):
            last[r, j] = 0.0 if net.output_relu and out[i0 + r, j] <= 0.0 else grad_out[i0 + r, j]
    if net.norm_at[layers - 1] >= 0:
        _stop_at_norm(net, scratch, partial_row, last, layers - 1, i0)
    else:
        backward_rows(net, scratch, partial_row, deltas, i0, i1, layers - 1)


@kernel
def norm_backward_rows(net, scratch, partial_row, deltas, layer, sums, i0, i1):
    r"""Rows i0:i1 through normalised layer ``layer`` backwards (training mode), then on down (:func:`backward_rows`).

    With :math:`g = \partial L/\partial y` kept by :func:`_stop_at_norm` and the all-row sums
    :math:`S_g = \sum_i g_i`, :math:`S_{g\hat z} = \sum_i g_i\hat z_i` (``sums``, (2, width)),
    :math:`\partial L/\partial z_i = \gamma\,\sigma_B^{-1}(g_i - S_g/n - \hat z_i S_{g\hat z}/n)`
    (the chain rule through Alg. 1 of Ioffe & Szegedy 2015, Sec. 3, simplified here; the closed form is checked
    against sympy's derivative, finite differences and PyTorch in ``tests/unit/test_dfiv_batchnorm.py``).
    """
    n, rows = net.x.shape[0], i1 - i0
    kept = norm_rows(scratch.norm_grad, net.sizes, net.norm_at, n, layer)
    zhat = norm_rows(net.normalized, net.sizes, net.norm_at, n, layer)
    gamma, _ = norm_params(net.params, net.sizes, net.norm_at, layer)
    delta = layer_activations(deltas, net.sizes, rows, layer + 1)
    c = net.norm_at[layer]
    for r in range(rows):
        for j in range(delta.shape[1]):
            i = i0 + r
            delta[r, j] = gamma[j] * net.stats[BATCH_INV_STD, c + j] * (
                kept[i, j] - (sums[0, j] + zhat[i, j] * sums[1, j]) / n)
    backward_rows(net, scratch, partial_row, deltas, i0, i1, layer)


@kernel
def _norm_gradient_sums(net, scratch, layer):
    r"""The all-row :math:`S_g` and :math:`S_{g\hat z}` of normalised layer ``layer`` (2, width): the blocks' sums
    (their gradients of beta and gamma in ``scratch.partial``) added in block order.

    A serial kernel of its own: inside a ``parallel=True`` function numba would make each of
    these array additions a parallel region (a thread wake-up each, two per block).
    """
    sums = np.zeros((2, net.sizes[layer + 1]))
    for blk in range(n_blocks(net.x.shape[0])):
        ggamma, gbeta = norm_params(scratch.partial[blk], net.sizes, net.norm_at, layer)
        sums[0] += gbeta
        sums[1] += ggamma
    return sums


@kernel(parallel=True)
def backward_segments(net, scratch):
    """The backward passes below each normalised layer, top down, once :func:`top_rows` ran on every block.

    At each normalised layer the blocks' sums of g and g z-hat (already in their gradient rows
    of ``scratch.partial``) are added in block order, and one parallel pass continues every
    block down to the next normalised layer.
    """
    n = net.x.shape[0]
    sizes = net.sizes
    for l in range(sizes.size - 2, -1, -1):
        if net.norm_at[l] < 0:
            continue
        sums = _norm_gradient_sums(net, scratch, l)
        for blk in prange(n_blocks(n)):
            i0, i1 = block_rows(n, blk)
            norm_backward_rows(net, scratch, scratch.partial[blk], scratch.deltas[get_thread_id()], l, sums, i0, i1)


def backward_scratch(sizes, n, norm_columns=0):
    """Work arrays of :func:`mlp_backward` for ``n`` rows, allocated once per network and row count.

    A :class:`BackwardScratch`: a :func:`backward_rows` work buffer for each of numba's
    threads, one weight-gradient row per block, the transposed weights (with zero biases:
    the input gradients have none) and the kept gradients of the ``norm_columns``
    normalised columns of every row. Reusing them matters: a fresh multi-megabyte array
    per call costs a page fault per 4 KiB here (glibc returns large freed blocks to the
    system); the measurements are in ``benchmarks/MEASUREMENTS.md``.
    """
    sizes = np.asarray(sizes)
    linear = int(np.sum(sizes[:-1] * sizes[1:] + sizes[1:]))
    reversed_params = linear - int(sizes[-1]) + int(sizes[0])
    deltas = np.empty((config.NUMBA_NUM_THREADS, min(n, BLOCK) * int(sizes[1:].sum())))
    return BackwardScratch(deltas, np.empty((n_blocks(n), linear + 2 * norm_columns)), np.zeros(reversed_params),
                           np.empty(n * norm_columns))


@kernel
def n_chunks(size):
    """Number of runs of at most :data:`BLOCK` parameters that the block reduction works on."""
    return (size + BLOCK - 1) // BLOCK


@kernel
def chunk_range(size, chunk):
    """Parameters ``[k0, k1)`` of run ``chunk``."""
    return chunk * BLOCK, min(size, chunk * BLOCK + BLOCK)


@kernel
def sum_blocks(partial, grad, k0, k1):
    """``grad[k0:k1] = partial[:, k0:k1].sum(axis=0)``, adding the blocks in order."""
    grad[k0:k1] = partial[0, k0:k1]
    for blk in range(1, partial.shape[0]):
        for k in range(k0, k1):
            grad[k] += partial[blk, k]


@kernel(parallel=True)
def mlp_backward(net, grad_out, grad, scratch):
    """dL/dparams into ``grad`` given dL/d(last activations) ``grad_out`` (n, sizes[-1]).

    After a forward pass of ``net`` (in training mode if it has normalised layers).
    ``scratch`` is :func:`backward_scratch` ``(sizes, n, C)``. Each block's gradient goes to
    its own row of ``scratch.partial``; the rows are then summed in block order, over
    contiguous runs of parameters (:func:`sum_blocks`).
    """
    n = net.x.shape[0]
    transpose_weights(net.params, net.sizes, scratch.weights_t)
    for blk in prange(n_blocks(n)):
        i0, i1 = block_rows(n, blk)
        top_rows(net, scratch, grad_out, scratch.partial[blk], scratch.deltas[get_thread_id()], i0, i1)
    backward_segments(net, scratch)
    for chunk in prange(n_chunks(grad.size)):
        k0, k1 = chunk_range(grad.size, chunk)
        sum_blocks(scratch.partial, grad, k0, k1)


@kernel
def adam_update(params, state, hyper, t, k0, k1):
    """Adam step ``t`` (>= 1) of the parameters ``[k0, k1)`` in place (:class:`AdamState`, :class:`AdamHyper`).

    Kingma & Ba (2015), Alg. 1, in PyTorch's form, with PyTorch's coupled weight decay
    (``weight_decay * params`` added to the gradient).
    """
    grad, m, v = state.grad, state.m, state.v
    beta1, beta2 = hyper.beta1, hyper.beta2
    c1 = 1.0 - beta1**t
    c2 = 1.0 - beta2**t
    step = hyper.lr / c1
    for i in range(k0, k1):
        g = grad[i] + hyper.weight_decay * params[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * g
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
        params[i] -= step * m[i] / (np.sqrt(v[i] / c2) + hyper.eps)


@kernel
def adam_step(params, state, hyper, t):
    """One Adam update of every parameter (:func:`adam_update`)."""
    adam_update(params, state, hyper, t, 0, params.size)
