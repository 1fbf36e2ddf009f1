r"""Small multilayer perceptrons used as learned feature maps, with hand-written backprop.

An ``MLP(sizes=(d, h_1, ..., h_L, k))`` maps :math:`a_0 = x \in \mathbb{R}^d` through
:math:`a_{l} = \mathrm{ReLU}(a_{l-1}W_l + b_l)` for the hidden layers and a linear (or, with
``output="relu"``, a ReLU) last layer to k features. Initialisation follows PyTorch's
``nn.Linear`` default (weights and biases :math:`\mathcal{U}(-1/\sqrt{\text{fan\_in}},
1/\sqrt{\text{fan\_in}})`), as in the DFIV reference code (Xu et al., ICLR 2021). Layers named
in ``batch_norm`` put PyTorch's ``BatchNorm1d`` (Ioffe & Szegedy, ICML 2015) between their
product and their activation: :math:`\gamma(z - \mu)/\sqrt{\sigma^2 + 10^{-5}} + \beta`, with
the batch's mean and biased variance in training mode (and the running statistics moved by
0.1 towards the batch's mean and unbiased variance) and the running statistics in
evaluation mode; :math:`\gamma = 1, \beta = 0` at first, running mean 0 and variance 1. All
layers live in one flat parameter vector so that one Adam call updates the network, and the
activations of one forward pass in one flat buffer. ``backend="numba"`` runs the kernels of
:mod:`theorytk.dfiv._kernels` (row blocks in parallel), ``"numpy"`` their twins in
:mod:`theorytk.dfiv.reference`.
"""

import numpy as np

from theorytk import _validate
from theorytk.dfiv import _kernels, reference
from theorytk.dfiv._kernels import AdamHyper, AdamState, Network

BACKENDS = {"numba": _kernels, "numpy": reference}
OUTPUTS = ("linear", "relu")


def _hyper(lr, weight_decay, beta1, beta2, eps):
    """Adam's hyperparameters as the kernels take them (:class:`~theorytk.dfiv._kernels.AdamHyper`), all floats."""
    return AdamHyper(float(lr), float(beta1), float(beta2), float(eps), float(weight_decay))


class Activations:
    """The :class:`~theorytk.dfiv._kernels.Network` of one forward pass (its inputs and activation buffers).

    ``training`` says whether the pass used batch statistics (a backward pass through
    normalised layers needs one that did).
    """

    def __init__(self, network, k, training):
        self.network, self.k, self.training = network, k, training

    @property
    def x(self):
        return self.network.x

    @property
    def buffer(self):
        return self.network.acts

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
        return self._buffer(net, n, "acts", n * int(net.sizes[1:].sum()))

    def normalized(self, net, n):
        """The flat buffer of the normalised values of ``net``'s batch-normalised layers for ``n`` rows."""
        return self._buffer(net, n, "normalized", n * net.norm_columns)

    def _buffer(self, net, n, kind, size):
        key = (id(net), n, kind)
        if key not in self._buffers:
            self._buffers[key] = (net, np.empty(size))   # holding net keeps its id unique
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
    batch_norm : sequence of int
        Dense layers (0 = the first product; negative: from the end, -1 = the output layer)
        whose product is batch-normalised before its activation (see the module docstring).
        Their scales and shifts follow the dense layers in ``params``; the running statistics
        are ``stats[RUNNING_MEAN]`` and ``stats[RUNNING_VAR]`` (:mod:`theorytk.dfiv._kernels`).
    """

    def __init__(self, sizes, rng, backend="numba", output="linear", batch_norm=()):
        sizes = tuple(_validate.integer("sizes entry", s, minimum=1) for s in sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {sizes}")
        self.sizes = np.array(sizes, dtype=np.int64)
        self.ops = BACKENDS[_validate.choice("backend", backend, BACKENDS)]
        self.output_relu = _validate.choice("output", output, OUTPUTS) == "relu"
        layers = len(sizes) - 1
        batch_norm = tuple(_validate.integer("batch_norm entry", l, minimum=-layers, maximum=layers - 1) % layers
                           for l in batch_norm)
        if len(set(batch_norm)) != len(batch_norm):
            raise ValueError(f"batch_norm must name distinct layers, got {batch_norm}")
        self.batch_norm = tuple(sorted(batch_norm))
        self.norm_at = np.full(layers, -1, dtype=np.int64)
        columns = 0
        for l in self.batch_norm:
            self.norm_at[l], columns = columns, columns + sizes[l + 1]
        self.norm_columns = columns
        linear = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        total = linear + 2 * columns
        self.params = np.empty(total)
        self.grad = np.zeros(total)
        self._m, self._v, self._t = np.zeros(total), np.zeros(total), 0
        self.stats = np.zeros((4, columns))
        self.stats[_kernels.RUNNING_VAR] = 1.0
        self._scratch, self._train_buffers, self._moments = {}, {}, {}
        at = 0
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / np.sqrt(a)
            self.params[at:at + a * b + b] = rng.uniform(-bound, bound, size=a * b + b)
            at += a * b + b
        for l in self.batch_norm:   # gamma = 1, beta = 0
            start = linear + 2 * self.norm_at[l]
            self.params[start:start + sizes[l + 1]] = 1.0
            self.params[start + sizes[l + 1]:start + 2 * sizes[l + 1]] = 0.0

    def _network(self, x, acts, normalized):
        """The :class:`~theorytk.dfiv._kernels.Network` of inputs ``x`` with these activation buffers."""
        n = x.shape[0]
        if n not in self._moments:
            self._moments[n] = np.empty((_kernels.n_blocks(n), 2, self.norm_columns))
        return Network(x, self.params, self.sizes, self.output_relu, acts, self.norm_at, self.stats, normalized,
                       self._moments[n])

    def _check_training_rows(self, n):
        if self.batch_norm and n < 2:
            raise ValueError(f"x must have at least 2 rows for a training-mode pass through batch norm, got {n}")

    def forward(self, x, workspace=None, training=False):
        """Activations of every layer (:class:`Activations`); ``.features`` is the feature matrix.

        Parameters
        ----------
        x : ndarray, shape (n, sizes[0])
        workspace : Workspace, optional
            Where the activations go (reused across calls: see :class:`Workspace`); by default
            a fresh buffer.
        training : bool
            Batch-normalised layers use the batch's statistics and update the running ones
            (PyTorch's ``train()`` mode); otherwise they use the running statistics.
        """
        x = self._inputs(x)
        n = x.shape[0]
        if training:
            self._check_training_rows(n)
        if workspace is None:
            buffer, normalized = np.empty(n * int(self.sizes[1:].sum())), np.empty(n * self.norm_columns)
        else:
            buffer, normalized = workspace.buffer(self, n), workspace.normalized(self, n)
        network = self._network(x, buffer, normalized)
        self.ops.mlp_forward(network, bool(training))
        return Activations(network, int(self.sizes[-1]), bool(training))

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
        """Write dL/dparams into ``self.grad`` given dL/d(features) and the :class:`Activations` of :meth:`forward`.

        With batch-normalised layers the pass must have been in training mode (the batch
        statistics are part of the function differentiated).
        """
        if self.batch_norm and not acts.training:
            raise ValueError("backward through batch norm needs the activations of forward(..., training=True), "
                             "got an evaluation-mode pass")
        g = np.ascontiguousarray(grad_features, dtype=np.float64)
        self.ops.mlp_backward(acts.network, g, self.grad, self._backward_scratch(acts.x.shape[0]))

    def _backward_scratch(self, n):
        key = (self.ops.__name__, n)
        if key not in self._scratch:
            self._scratch[key] = self.ops.backward_scratch(self.sizes, n, self.norm_columns)
        return self._scratch[key]

    def adam(self, lr, weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        """One Adam step on ``self.grad`` (plus ``weight_decay * params``, PyTorch's coupled decay)."""
        self._t += 1
        self.ops.adam_step(self.params, AdamState(self.grad, self._m, self._v),
                           _hyper(lr, weight_decay, beta1, beta2, eps), self._t)

    def train(self, x, iters, steps, loss, work, lr, weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        """``iters`` full-batch Adam steps on inputs ``x`` in one call of the loop kernel ``steps``.

        ``steps`` is :func:`theorytk.dfiv._stage_kernels.adam_steps` for the numba backend or
        its twin :func:`theorytk.dfiv.reference.adam_steps` for the numpy one (the network's
        own backend: it hands over its backward work arrays); ``loss`` is a
        :class:`~theorytk.dfiv._stage_kernels.RidgeLoss` and ``work`` a
        :class:`~theorytk.dfiv._stage_kernels.StepWork`. Batch-normalised
        layers run in training mode. Afterwards ``self.grad`` holds the last step's gradient,
        as after :meth:`adam`.
        """
        iters = _validate.integer("iters", iters, minimum=0)
        x = self._inputs(x)
        n = x.shape[0]
        self._check_training_rows(n)
        if n not in self._train_buffers:      # the loop kernel's own activations: they never leave this method
            self._train_buffers[n] = (np.empty(n * int(self.sizes[1:].sum())), np.empty(n * self.norm_columns))
        network = self._network(x, *self._train_buffers[n])
        steps(network, self._backward_scratch(n), AdamState(self.grad, self._m, self._v),
              _hyper(lr, weight_decay, beta1, beta2, eps), self._t, iters, loss, work)
        self._t += iters

    def snapshot(self):
        """A copy of the parameters and the normalisation statistics (what :meth:`restore` takes back)."""
        return self.params.copy(), self.stats.copy()

    def restore(self, snapshot):
        """Set the parameters and normalisation statistics to those of a :meth:`snapshot`."""
        self.params[...], self.stats[...] = snapshot
