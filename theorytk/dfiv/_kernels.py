"""Numba kernels for the small multilayer perceptrons of DFIV: whole-network forward, backward, Adam.

A feature network is a chain of dense layers ``a_{l+1} = act(a_l W_l + b_l)`` (ReLU on the
hidden layers, ReLU or the identity on the last). All weights and biases live in one flat
parameter vector, layer by layer (``W_l`` row-major, then ``b_l``); ``sizes`` holds the
layer widths. The activations of every layer live in one flat buffer, layer by layer, each
an ``(n, sizes[l])`` row-major block (:func:`layer_activations`).

The rows are cut into blocks of at most :data:`BLOCK` rows and equal size to within a row
(:func:`block_rows`), and each block runs through *all* layers on one thread (``prange``):
the block's activations stay in cache between layers, the bias is the accumulators'
starting value, and the ReLU (forward) or its derivative (backward) is applied to each
result tile as it is stored. The products are the register-tiled ones of
:mod:`theorytk._gemm` (not BLAS: a pthreads OpenBLAS called from two numba threads at once ran each call about
four times slower here). The backward pass writes each block's weight gradient into its
own row of a ``(n_blocks, n_params)`` scratch array and then sums the rows *in block
order*; the block partition depends only on n, so the result is the same on any number of
threads.

The row-block pieces (:func:`forward_rows`, :func:`backward_rows`, :func:`sum_blocks`,
:func:`adam_update`) are public so that :func:`theorytk.dfiv._stage_kernels.adam_steps` can
fuse them with a loss gradient into whole Adam steps.

No validation: :mod:`theorytk.dfiv.features` checks inputs. The plain-NumPy twins are in
:mod:`theorytk.dfiv.reference`.
"""
import numpy as np
from numba import config, get_thread_id, prange

from theorytk._gemm import GATE, PLAIN, RELU, column_sums, gemm_nn, gemm_tn
from theorytk._jit import kernel

BLOCK = 128
"""Rows per block, at most: a 128 x 128 activation block (128 KiB) stays in L2 across layers."""


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
def _layer(params, sizes, layer):
    """Views ``(W, b)`` of layer ``layer`` in the flat parameter vector."""
    at = 0
    for l in range(layer):
        at += sizes[l] * sizes[l + 1] + sizes[l + 1]
    a, b = sizes[layer], sizes[layer + 1]
    return params[at:at + a * b].reshape((a, b)), params[at + a * b:at + a * b + b]


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
def forward_rows(x, params, sizes, output_relu, acts, i0, i1):
    """The activations of rows ``[i0, i1)`` through every layer (one thread; the rows stay in cache)."""
    n = x.shape[0]
    layers = sizes.size - 1
    for l in range(layers):
        w, b = _layer(params, sizes, l)
        out = layer_activations(acts, sizes, n, l + 1)
        gemm_nn(x if l == 0 else layer_activations(acts, sizes, n, l), w, b, out, i0, i1,
                RELU if l < layers - 1 or output_relu else PLAIN, out)


@kernel(parallel=True)
def mlp_forward(x, params, sizes, output_relu, acts):
    """Fill the activations of layers 1..L for inputs ``x`` (n, sizes[0])."""
    n = x.shape[0]
    for blk in prange(n_blocks(n)):
        i0, i1 = block_rows(n, blk)
        forward_rows(x, params, sizes, output_relu, acts, i0, i1)


@kernel
def transpose_weights(params, sizes, weights_t):
    """``W_l^T`` of every layer into ``weights_t``, stored as the layers of the reversed network."""
    layers = sizes.size - 1
    for l in range(layers):
        w, _ = _layer(params, sizes, l)
        wt, _ = _layer(weights_t, sizes[::-1], layers - 1 - l)
        wt[...] = w.T


@kernel
def backward_rows(x, weights_t, sizes, output_relu, acts, grad_out, deltas, partial_row, i0, i1):
    """Backward pass of rows i0:i1 through every layer; their weight gradients into ``partial_row``.

    Reads ``grad_out`` and the activations of these rows only. ``deltas`` is the calling
    thread's work buffer: dL/d(pre-activation) of each layer for these rows, laid out like
    the activations of ``i1 - i0`` rows (:func:`layer_activations`), so a thread reuses the
    same few hundred KiB, in its own cache, for every block it takes.
    """
    n, rows = x.shape[0], i1 - i0
    layers = sizes.size - 1
    last = layer_activations(deltas, sizes, rows, layers)
    out = layer_activations(acts, sizes, n, layers)
    for r in range(rows):
        for j in range(last.shape[1]):
            last[r, j] = 0.0 if output_relu and out[i0 + r, j] <= 0.0 else grad_out[i0 + r, j]
    for l in range(layers - 1, -1, -1):
        delta = layer_activations(deltas, sizes, rows, l + 1)
        gw, gb = _layer(partial_row, sizes, l)
        column_sums(delta, gb, 0, rows)
        below = x[i0:i1] if l == 0 else layer_activations(acts, sizes, n, l)[i0:i1]
        gemm_tn(below, delta, gw, 0, rows)
        if l > 0:
            wt, bt = _layer(weights_t, sizes[::-1], layers - 1 - l)
            gemm_nn(delta, wt, bt, layer_activations(deltas, sizes, rows, l), 0, rows, GATE, below)


def backward_scratch(sizes, n):
    """Work arrays of :func:`mlp_backward` for ``n`` rows, allocated once per network and row count.

    ``(deltas, partial, weights_t)``: a :func:`backward_rows` work buffer for each of numba's
    threads, one weight-gradient row per block, and the transposed weights (with zero
    biases: the input gradients have none). Reusing them matters: a fresh multi-megabyte
    array per call costs a page fault per 4 KiB here (glibc returns large freed blocks to
    the system), more than the products themselves. The per-thread deltas (instead of an
    n-row array that every block writes fresh lines of) took the backward pass of the
    3-128-64-32 net on 2500 rows from 3.95 to 3.47 ms on one thread and from 2.43 to
    2.10 ms on two, with bit-identical gradients.
    """
    n_params = int(np.sum(sizes[:-1] * sizes[1:] + sizes[1:]))
    reversed_params = n_params - int(sizes[-1]) + int(sizes[0])
    deltas = np.empty((config.NUMBA_NUM_THREADS, min(n, BLOCK) * int(sizes[1:].sum())))
    return deltas, np.empty((n_blocks(n), n_params)), np.zeros(reversed_params)


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
def mlp_backward(x, params, sizes, output_relu, acts, grad_out, grad, scratch):
    """dL/dparams into ``grad`` given dL/d(last activations) ``grad_out`` (n, sizes[-1]).

    ``scratch`` is :func:`backward_scratch` ``(sizes, n)``. Each block's gradient goes to its
    own row of ``scratch[1]``; the rows are then summed in block order, over contiguous runs
    of parameters (:func:`sum_blocks`).
    """
    n = x.shape[0]
    deltas, partial, weights_t = scratch
    transpose_weights(params, sizes, weights_t)
    for blk in prange(n_blocks(n)):
        i0, i1 = block_rows(n, blk)
        backward_rows(x, weights_t, sizes, output_relu, acts, grad_out, deltas[get_thread_id()], partial[blk], i0, i1)
    for chunk in prange(n_chunks(grad.size)):
        k0, k1 = chunk_range(grad.size, chunk)
        sum_blocks(partial, grad, k0, k1)


@kernel
def adam_update(params, grad, m, v, hyper, t, k0, k1):
    """Adam step ``t`` (>= 1) of the parameters ``[k0, k1)`` in place; ``hyper = (lr, beta1, beta2, eps, weight_decay)``.

    Kingma & Ba (2015), Alg. 1, in PyTorch's form, with PyTorch's coupled weight decay
    (``weight_decay * params`` added to the gradient).
    """
    lr, beta1, beta2, eps, weight_decay = hyper
    c1 = 1.0 - beta1**t
    c2 = 1.0 - beta2**t
    step = lr / c1
    for i in range(k0, k1):
        g = grad[i] + weight_decay * params[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * g
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
        params[i] -= step * m[i] / (np.sqrt(v[i] / c2) + eps)


@kernel
def adam_step(params, grad, m, v, hyper, t):
    """One Adam update of every parameter (:func:`adam_update`)."""
    adam_update(params, grad, m, v, hyper, t, 0, params.size)
