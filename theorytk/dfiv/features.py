r"""Small multilayer perceptrons used as learned feature maps, with hand-written backprop.

An ``MLP(sizes=(d, h_1, ..., h_L, k))`` maps :math:`a_0 = x \in \mathbb{R}^d` through
:math:`a_{l} = \mathrm{ReLU}(a_{l-1}W_l + b_l)` for the hidden layers and a linear (or, with
``output="relu"``, a ReLU) last layer to k features. Initialisation follows PyTorch's
``nn.Linear`` default (weights and biases :math:`\mathcal{U}(-1/\sqrt{\text{fan\_in}},
1/\sqrt{\text{fan\_in}})`), as in the DFIV reference code (Xu et al., ICLR 2021). All layers
live in one flat parameter vector so that one Adam call updates the network, and the
activations of one forward pass in one flat buffer. ``backend="numba"`` runs the kernels of
:mod:`theorytk.dfiv._kernels` (row blocks in parallel), ``"numpy"`` their twins in
:mod:`theorytk.dfiv.reference`.
"""

import numpy as np

from theorytk import _validate
from theorytk.dfiv import _kernels, reference

BACKENDS = {"numba": _kernels, "numpy": reference}
OUTPUTS = ("linear", "relu")


def _hyper(lr, weight_decay, beta1, beta2, eps):
    """Adam's hyperparameters as the kernels take them, all floats (one compiled signature)."""
    return float(lr), float(beta1), float(beta2), float(eps), float(weight_decay)


class Activations:
    """The inputs ``x`` and the flat buffer of every layer's activations of one forward pass."""

    def __init__(self, x, buffer, k):
        self.x, self.buffer, self.k = x, buffer, k

    @property
    def features(self):
        """The last layer's activations, (n, k): the end of the buffer."""
        return self.buffer[self.buffer.size - self.x.shape[0] * self.k:].reshape(self.x.shape[0], self.k)


class Workspace:
    """Activation buffers that a caller owns and lends to :meth:`MLP.forward`, one per (network, row count).

    A fit creates one and passes it to every forward pass of its training loop, so the loop
    allocates each buffer once; the caller decides when a buffer may be overwritten: the
    :class:`Activations` of a forward pass that used a workspace are valid until the next pass
    with the same workspace, network and row count. Without a workspace a forward pass writes
    into a fresh buffer that nothing else touches.
    """

    def __init__(self):
        self._buffers = {}

    def buffer(self, net, n):
        """The flat activation buffer of ``net`` for ``n`` rows (allocated on first use)."""
        key = (id(net), n)
        if key not in self._buffers:
            self._buffers[key] = (net, np.empty(n * int(net.sizes[1:].sum())))   # holding net keeps its id unique
        return self._buffers[key][1]


class MLP:
    """A ReLU network with a linear (or ReLU) output layer and an Adam state.

    Parameters
    ----------
    sizes : sequence of int
        ``(input_dim, hidden..., output_dim)``, at least two entries, all >= 1.
    rng : numpy.random.Generator
        Draws the initial weights.
    backend : {"numba", "numpy"}
    output : {"linear", "relu"}
        Activation of the last layer.
    """

    def __init__(self, sizes, rng, backend="numba", output="linear"):
        sizes = tuple(_validate.integer("sizes entry", s, minimum=1) for s in sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {sizes}")
        self.sizes = np.array(sizes, dtype=np.int64)
        self.ops = BACKENDS[_validate.choice("backend", backend, BACKENDS)]
        self.output_relu = _validate.choice("output", output, OUTPUTS) == "relu"
        total = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        self.params = np.empty(total)
        self.grad = np.zeros(total)
        self._m, self._v, self._t = np.zeros(total), np.zeros(total), 0
        self._scratch, self._train_buffers = {}, {}
        at = 0
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / np.sqrt(a)
            self.params[at:at + a * b + b] = rng.uniform(-bound, bound, size=a * b + b)
            at += a * b + b

    def forward(self, x, workspace=None):
        """Activations of every layer (:class:`Activations`); ``.features`` is the feature matrix.

        Parameters
        ----------
        x : ndarray, shape (n, sizes[0])
        workspace : Workspace, optional
            Where the activations go (reused across calls: see :class:`Workspace`); by default
            a fresh buffer.
        """
        x = self._inputs(x)
        n = x.shape[0]
        buffer = np.empty(n * int(self.sizes[1:].sum())) if workspace is None else workspace.buffer(self, n)
        self.ops.mlp_forward(x, self.params, self.sizes, self.output_relu, buffer)
        return Activations(x, buffer, int(self.sizes[-1]))

    def _inputs(self, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must have shape (n, {self.sizes[0]}), got {x.shape}")
        return x

    def __call__(self, x, workspace=None):
        """The features (n, k) of ``x``, an array of their own (a view would keep every layer's activations alive).

        ``workspace`` as in :meth:`forward`: a training loop passes its own, so that the
        activations of each pass land in a buffer allocated once (a fresh multi-megabyte buffer
        costs a page fault per 4 KiB, see :func:`theorytk.dfiv._kernels.backward_scratch`).
        """
        return self.forward(x, workspace).features.copy()

    def backward(self, acts, grad_features):
        """Write dL/dparams into ``self.grad`` given dL/d(features) and the :class:`Activations` of :meth:`forward`."""
        g = np.ascontiguousarray(grad_features, dtype=np.float64)
        self.ops.mlp_backward(acts.x, self.params, self.sizes, self.output_relu, acts.buffer, g, self.grad,
                              self._backward_scratch(acts.x.shape[0]))

    def _backward_scratch(self, n):
        key = (self.ops.__name__, n)
        if key not in self._scratch:
            self._scratch[key] = self.ops.backward_scratch(self.sizes, n)
        return self._scratch[key]

    def adam(self, lr, weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        """One Adam step on ``self.grad`` (plus ``weight_decay * params``, PyTorch's coupled decay)."""
        self._t += 1
        self.ops.adam_step(self.params, self.grad, self._m, self._v, _hyper(lr, weight_decay, beta1, beta2, eps),
                           self._t)

    def train(self, x, iters, steps, loss, work, lr, weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        """``iters`` full-batch Adam steps on inputs ``x`` in one call of the loop kernel ``steps``.

        ``steps`` is :func:`theorytk.dfiv._stage_kernels.adam_steps` for the numba backend or
        its twin :func:`theorytk.dfiv.reference.adam_steps` for the numpy one (the network's
        own backend: it hands over its backward work arrays); ``loss`` and ``work`` are that
        kernel's loss and work arrays. Afterwards ``self.grad`` holds the last step's
        gradient, as after :meth:`adam`.
        """
        iters = _validate.integer("iters", iters, minimum=0)
        x = self._inputs(x)
        n = x.shape[0]
        if n not in self._train_buffers:      # the loop kernel's own activations: they never leave this method
            self._train_buffers[n] = np.empty(n * int(self.sizes[1:].sum()))
        network = (x, self.params, self.sizes, self.output_relu, self._train_buffers[n])
        steps(network, self._backward_scratch(x.shape[0]), (self.grad, self._m, self._v),
              _hyper(lr, weight_decay, beta1, beta2, eps), self._t, iters, loss, work)
        self._t += iters

    def snapshot(self):
        return self.params.copy()

    def restore(self, params):
        self.params[...] = params
