r"""Deep feature instrumental-variable regression (DFIV; Xu, Chen, Srinivasan, de Freitas,
Doucet, Gretton, ICLR 2021, arXiv 2010.07154), trained as in the authors' code.

Treatment features :math:`\psi_{\theta_X}`, instrument features :math:`\phi_{\theta_Z}` and,
with observed covariates W (Sec. 4 of the paper), covariate features :math:`\xi_{\theta_W}`
are small ReLU networks (:class:`theorytk.dfiv.features.MLP`). For fixed networks the two
stages are ridge regressions in closed form (:mod:`theorytk.dfiv.two_stage`: ones appended
to the instrument features, to the predicted treatment features and to the covariate
features, all penalised; penalties scaled by the sample size, as in the code's
``fit_linear``; with covariates the stage-2 design is the row-wise outer product
:math:`[\hat V\phi(z), 1]\otimes[\xi(w), 1]`). Each epoch of the alternating schedule
(``DFIVTrainer`` in ``liyuan9988/DeepFeatureIV``):

1. ``stage1_iter`` full-batch Adam steps on :math:`\theta_Z` with :math:`\psi(X_1)` held
   fixed, on the profiled stage-1 loss :math:`L_1(\theta_Z) = \min_V \frac1n\|\Psi_1 -
   \Phi_1V^\top\|^2 + \lambda_1\|V\|^2`;
2. with covariates, ``covariate_iter`` Adam steps on :math:`\theta_W` with the predicted
   treatment features :math:`\Phi_2\hat V^\top` held fixed, on the profiled stage-2 loss;
3. ``stage2_iter`` Adam steps on :math:`\theta_X` with :math:`\phi` (and :math:`\xi`) held
   fixed, on the profiled stage-2 loss :math:`L_2(\theta_X) = \min_u \frac1m\|y_2 -
   F(\theta_X)u\|^2 + \lambda_2\|u\|^2`; the gradient flows through :math:`\hat V(\theta_X)`.
   The dependence of the optimal :math:`\theta_Z` on :math:`\theta_X` is ignored, as in the code.

All three gradients come from the envelope theorem (:mod:`~theorytk.dfiv.two_stage`). Then
:math:`\hat f(x, w) = ([\psi(x), 1]\otimes[\xi(w), 1])\hat u`. Differences from the
authors' code, all documented choices: by default the network inputs are standardised with
stage-1 statistics (``standardize_inputs``; the authors feed raw inputs, and
:func:`demand_dfiv` does too); batch normalisation only where asked (``instrument_batch_norm``,
``covariate_batch_norm``: :func:`demand_dfiv` puts it where the authors' demand nets have it,
in PyTorch's train/eval modes as their trainer switches them: training-mode statistics
during each network's own Adam steps, the running statistics everywhere else, prediction
included); the outcome is divided by its stage-2 standard deviation during
training and the predictions multiplied back (this makes the fit exactly equivariant to
scaling y, and Adam is invariant to the loss scale); the losses are means, not sums.
Early stopping: with a ``validation`` sample the networks with the smallest validation loss
:math:`\frac1{m_v}\|y_v - \widehat E[\hat f|Z]\|^2` (checked every ``eval_every`` epochs)
are kept.
"""
import numpy as np
from threadpoolctl import threadpool_limits

from theorytk import _validate
from theorytk.errors import NotFitted, TrainingDiverged
from theorytk.dfiv import _stage_kernels, reference, two_stage
from theorytk.dfiv._stage_kernels import RidgeLoss, StepWork
from theorytk.dfiv.features import BACKENDS, MLP, Workspace
from theorytk.dfiv.selection import check_stages
from theorytk.random import child_generators

SCHEDULES = ("constant", "cosine")
STAGE_OPS = {"numba": _stage_kernels, "numpy": reference}
"""The inner Adam loops of the schedule by backend: one fused kernel, or its twin on :mod:`two_stage`."""



def fitted_rows(model, name, value):
    """``value`` as rows for a fitted estimator: a 2-d float array with the columns ``model`` was fitted on.

    Shared by the ``predict*`` methods of every estimator here. A 0-d or 1-d ``value`` is one
    row (``np.atleast_2d``).

    Parameters
    ----------
    model : object
        An estimator whose ``fit`` set ``columns_``, a dict from ``"x"``/``"z"`` to the column
        counts of the stage-1 treatments and instruments.
    name : {"x", "z"}
        The argument checked (its message names it).
    value : array-like

    Raises
    ------
    NotFitted
        ``model`` has not been fitted.
    TypeError, ValueError
        ``value`` is not a finite numeric array of rank <= 2 with ``columns_[name]`` columns.
    """
    columns = check_fitted(model)
    rows = np.atleast_2d(_validate.array(name, value, ndim=(0, 1, 2)))
    if rows.shape[1] != columns[name]:
        raise ValueError(f"{name} must have {columns[name]} columns, as the stage-1 {name} the "
                         f"{type(model).__name__} was fitted on, got shape {rows.shape} (a 1-d {name} is one row)")
    return rows


def check_fitted(model):
    """``model.columns_``, or :class:`~theorytk.errors.NotFitted` if ``model`` has not been fitted."""
    columns = getattr(model, "columns_", None)
    if columns is None:
        raise NotFitted(f"this {type(model).__name__} is not fitted: call its fit(stage1, stage2, ...) first")
    return columns


def fitted_columns(stage1):
    """The ``columns_`` of an estimator fitted on ``stage1`` (see :func:`fitted_rows`)."""
    return {"x": stage1.x.shape[1], "z": stage1.z.shape[1]}


def _identity(a):
    return np.asarray(a, dtype=float)


class _Inputs:
    """Column selection, an optional input map and (if ``standardize``) standardisation by reference-sample statistics."""

    def __init__(self, columns, fn, reference, standardize=True):
        self.columns, self.fn = columns, fn
        u = self._mapped(reference)
        if standardize:
            sd = u.std(axis=0)
            self.mean, self.sd = u.mean(axis=0), np.where(sd > 0, sd, 1.0)
        else:
            self.mean, self.sd = np.zeros(u.shape[1]), np.ones(u.shape[1])

    def _mapped(self, a):
        a = np.asarray(a, dtype=float)
        u = np.atleast_2d(self.fn(a if self.columns is None else a[:, self.columns]))
        return u if u.shape[0] == a.shape[0] else u.T

    def __call__(self, a):
        return np.ascontiguousarray((self._mapped(a) - self.mean) / self.sd)


class DFIV:
    """DFIV with MLP feature maps, alternating closed-form/Adam training.

    Parameters
    ----------
    treatment_layers, instrument_layers : tuple of int
        Hidden widths of the treatment (psi) and instrument (phi) networks.
    treatment_features, instrument_features : int
        Output sizes k_x and k_z.
    lam1, lam2 : float > 0
        Stage-1 and stage-2 ridge (scaled by the stage sample size, intercepts penalised).
    epochs, stage1_iter, stage2_iter : int
    lr : float > 0
        Adam learning rate (every network).
    schedule : {"constant", "cosine"}
        Learning-rate schedule over epochs (cosine decays to lr/100).
    weight_decay : float >= 0
        Adam's coupled L2 decay on every network, on the scale of the mean losses of
        standardised y. (The authors' demand configuration puts 0.1 on the covariate net
        against their sum-of-squares loss in raw units of y; on our scale that is 0.1 / (m
        sd(y)^2), about 1e-9 at n = 5000: negligible, so their configuration is 0 here.)
    covariates : sequence of int, optional
        Columns of x that are observed exogenous covariates W (they must also be instruments,
        i.e. functions of z, as in the demand design). They feed a covariate network xi
        instead of the treatment network, and enter stage 2 through the outer product.
    covariate_layers : tuple of int
        Hidden widths of xi (ReLU everywhere, including the output, as in the authors' net).
    covariate_features : int
        Output size k_w of xi.
    covariate_iter : int
        Adam steps on xi per epoch.
    treatment_input, instrument_input : callable, optional
        Input maps applied before the networks (e.g. :func:`theorytk.dfiv.data.circle_embedding`);
        the treatment map sees the non-covariate columns of x.
    eval_every : int
        Epochs between validation checks when a validation sample is given.
    standardize_inputs : bool
        Standardise every network input by the mean and sd of its stage-1 values (after the
        input map). False feeds the inputs as they are, as the authors' code does.
    instrument_batch_norm, covariate_batch_norm : tuple of int
        Dense layers of the instrument and covariate networks (0 = the first, -1 = the output
        layer) whose products are batch-normalised before their activation
        (:class:`~theorytk.dfiv.features.MLP`).
    backend : {"numba", "numpy"}
        "numpy" runs the plain-NumPy reference twin (for tests and the benchmark).

    Attributes (after :meth:`fit`)
    ----------
    history : dict of lists
        ``epoch``, ``stage2_loss`` and, with validation, ``validation_loss``.
    best_epoch : int
    """

    def __init__(self, treatment_layers=(32,), instrument_layers=(32,), treatment_features=8, instrument_features=16,
                 lam1=0.1, lam2=0.1, epochs=100, stage1_iter=20, stage2_iter=1, lr=1e-3, schedule="constant",
                 weight_decay=0.0, covariates=None, covariate_layers=(128, 32), covariate_features=16,
                 covariate_iter=20, treatment_input=None, instrument_input=None, eval_every=5, standardize_inputs=True,
                 instrument_batch_norm=(), covariate_batch_norm=(), backend="numba"):
        def widths(name, layers):
            return tuple(_validate.integer(f"{name} entry", w, minimum=1) for w in layers)

        self.treatment_layers = widths("treatment_layers", treatment_layers)
        self.instrument_layers = widths("instrument_layers", instrument_layers)
        self.covariate_layers = widths("covariate_layers", covariate_layers)
        self.treatment_features = _validate.integer("treatment_features", treatment_features, minimum=1)
        self.instrument_features = _validate.integer("instrument_features", instrument_features, minimum=1)
        self.covariate_features = _validate.integer("covariate_features", covariate_features, minimum=1)
        self.lam1, self.lam2 = _validate.positive("lam1", lam1), _validate.positive("lam2", lam2)
        self.epochs = _validate.integer("epochs", epochs, minimum=1)
        self.stage1_iter = _validate.integer("stage1_iter", stage1_iter, minimum=0)
        self.stage2_iter = _validate.integer("stage2_iter", stage2_iter, minimum=0)
        self.covariate_iter = _validate.integer("covariate_iter", covariate_iter, minimum=0)
        self.lr = _validate.positive("lr", lr)
        self.schedule = _validate.choice("schedule", schedule, SCHEDULES)
        self.weight_decay = _validate.real("weight_decay", weight_decay, minimum=0.0)
        if covariates is not None:
            covariates = tuple(_validate.integer("covariates entry", c, minimum=0) for c in covariates)
            if not covariates or len(set(covariates)) != len(covariates):
                raise ValueError(f"covariates must be distinct column indices of x, got {covariates}")
        self.covariates = covariates
        for name, fn in (("treatment_input", treatment_input), ("instrument_input", instrument_input)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
        self.treatment_input = treatment_input or _identity
        self.instrument_input = instrument_input or _identity
        self.eval_every = _validate.integer("eval_every", eval_every, minimum=1)
        self.standardize_inputs = _validate.flag("standardize_inputs", standardize_inputs)
        def norm_layers(name, layers, hidden):
            return tuple(_validate.integer(f"{name} entry", l, minimum=-len(hidden) - 1, maximum=len(hidden))
                         for l in layers)

        self.instrument_batch_norm = norm_layers("instrument_batch_norm", instrument_batch_norm, self.instrument_layers)
        self.covariate_batch_norm = norm_layers("covariate_batch_norm", covariate_batch_norm, self.covariate_layers)
        self.backend = _validate.choice("backend", backend, BACKENDS)

    def _lr(self, epoch):
        if self.schedule == "constant":
            return self.lr
        floor = self.lr / 100
        return floor + 0.5 * (self.lr - floor) * (1 + np.cos(np.pi * epoch / self.epochs))

    def _treatment_columns(self, d_x):
        if self.covariates is None:
            return None
        if max(self.covariates) >= d_x or len(self.covariates) >= d_x:
            raise ValueError(f"covariates {self.covariates} must leave at least one treatment column among the "
                             f"{d_x} columns of x")
        return [j for j in range(d_x) if j not in self.covariates]

    # -- training ---------------------------------------------------------------------
    def fit(self, stage1, stage2, validation=None, *, seed=0):
        """Train on stage-1 (x, z) and stage-2 (z, y, and the covariate columns of x); early-stop on ``validation``.

        BLAS runs on one thread during training: the products here are small (width x n),
        and threaded OpenBLAS made a fit one to two orders of magnitude slower on a shared
        2-core machine (measured in ``benchmarks/dfiv.py``). The caller's setting is restored.
        """
        check_stages(stage1, stage2)
        if validation is not None:
            check_stages(validation, stage2)
        seed = _validate.seed("seed", seed)
        if stage1.size <= self.instrument_features + 1 or stage2.size <= self.treatment_features + 1:
            raise ValueError(f"too few samples: stage 1 has {stage1.size} rows for {self.instrument_features + 1} "
                             f"instrument features, stage 2 has {stage2.size} rows for {self.treatment_features + 1}")
        if stage1.x.shape[1] != stage2.x.shape[1]:
            raise ValueError(f"stage1.x and stage2.x need the same columns, got {stage1.x.shape[1]} and "
                             f"{stage2.x.shape[1]}")
        self.__dict__.pop("columns_", None)
        with threadpool_limits(limits=1, user_api="blas"):
            self._fit(stage1, stage2, validation, seed)
        self.columns_ = fitted_columns(stage1)
        return self

    def _nets(self, rng_seed):
        rng_t, rng_z, rng_w = child_generators(rng_seed, 3)
        self.treatment_net = MLP((self._t_in.mean.size, *self.treatment_layers, self.treatment_features), rng_t,
                                 self.backend)
        self.instrument_net = MLP((self._z_in.mean.size, *self.instrument_layers, self.instrument_features), rng_z,
                                  self.backend, batch_norm=self.instrument_batch_norm)
        self.covariate_net = None
        if self.covariates is not None:
            self.covariate_net = MLP((self._w_in.mean.size, *self.covariate_layers, self.covariate_features), rng_w,
                                     self.backend, output="relu", batch_norm=self.covariate_batch_norm)

    def _fit(self, stage1, stage2, validation, seed):
        standardize = self.standardize_inputs
        self._t_in = _Inputs(self._treatment_columns(stage1.x.shape[1]), self.treatment_input, stage1.x, standardize)
        self._z_in = _Inputs(None, self.instrument_input, stage1.z, standardize)
        self._w_in = None if self.covariates is None else _Inputs(list(self.covariates), _identity, stage1.x,
                                                                  standardize)
        self._nets(seed)
        tx1, iz1, iz2 = self._t_in(stage1.x), self._z_in(stage1.z), self._z_in(stage2.z)
        w2 = self._covariate_inputs(stage2.x)
        sd = float(np.std(stage2.y))
        self.y_scale = sd if sd > 0 else 1.0
        y2 = stage2.y / self.y_scale
        held_out = None if validation is None else (self._z_in(validation.z), self._covariate_inputs(validation.x),
                                                    validation.y / self.y_scale)
        self.history = {"epoch": [], "stage2_loss": [], "validation_loss": []}
        self._step_work, self._workspace = {}, Workspace()   # this fit's work arrays and activation buffers
        best = (np.inf, None, 0)
        for epoch in range(self.epochs):
            try:
                best = self._epoch(epoch, (tx1, iz1, iz2, w2, y2), held_out, best)
            except np.linalg.LinAlgError as exc:  # scipy's Cholesky on features that overflowed
                raise self._diverged(epoch, "the features overflowed and a ridge system lost positive "
                                            "definiteness") from exc
        if best[1] is not None:
            self._restore(best[1])
        self.best_epoch = best[2] if best[1] is not None else self.epochs - 1
        self.fit_ = self._closed_form(tx1, iz1, iz2, w2, y2)
        del self._step_work, self._workspace

    def _epoch(self, epoch, inputs, held_out, best):
        """One epoch of the schedule on the network inputs of :meth:`_fit`; returns the new ``best``."""
        tx1, iz1, iz2, w2, y2 = inputs
        lr = self._lr(epoch)
        work = self._workspace
        psi1 = self.treatment_net(tx1, work)
        self._stage1_steps(iz1, psi1, lr)
        phi1, phi2 = two_stage.with_intercept(self.instrument_net(iz1, work)), two_stage.with_intercept(
            self.instrument_net(iz2, work))
        xi2 = None
        if self.covariate_net is not None:
            self._covariate_steps(phi2 @ two_stage.ridge_solve(phi1, psi1, self.lam1), w2, y2, lr)
            xi2 = self.covariate_net(w2, work)
        for _ in range(self.stage2_iter):
            self._adam_step(self.treatment_net, tx1, lr, lambda psi: two_stage.stage2_gradient(
                phi1, phi2, two_stage.solve(phi1, psi, phi2, y2, self.lam1, self.lam2, xi2), self.lam1))
        if (epoch + 1) % self.eval_every == 0 or epoch == self.epochs - 1:
            best = self._checkpoint(epoch, (phi1, phi2, xi2, tx1, y2), held_out, best)
        return best

    def _diverged(self, epoch, what):
        """The :class:`TrainingDiverged` of epoch ``epoch``, saying ``what`` happened and the remedy."""
        return TrainingDiverged(f"DFIV training diverged at epoch {epoch}: {what}; "
                                f"lower lr (now {self.lr:g}) or raise lam1/lam2 (now {self.lam1:g}, {self.lam2:g})")

    def _adam_step(self, net, inputs, lr, loss_gradient):
        """One Adam step of ``net`` on ``inputs``; ``loss_gradient(features)`` is dL/d(features).

        The activations go to this fit's :class:`~theorytk.dfiv.features.Workspace`: they are
        used only within the step, so the next step may overwrite them.
        """
        acts = net.forward(inputs, self._workspace)
        net.backward(acts, loss_gradient(acts.features))
        net.adam(lr, self.weight_decay)

    def _feature_steps(self, net, inputs, lr, iters, loss):
        """``iters`` Adam steps of ``net`` on the profiled ``loss`` (:func:`~theorytk.dfiv._stage_kernels.adam_steps`).

        The feature-gradient array and the loop's work arrays are allocated once per network
        and fit.
        """
        ops = STAGE_OPS[self.backend]
        if net not in self._step_work:
            k = int(net.sizes[-1])
            self._step_work[net] = StepWork(np.empty((inputs.shape[0], k)), *ops.scratch(loss, k))
        net.train(inputs, iters, ops.adam_steps, loss, self._step_work[net], lr, self.weight_decay)

    def _stage1_steps(self, iz1, psi1, lr):
        loss = RidgeLoss(two_stage.STAGE1_LOSS, np.empty((psi1.shape[0], 0)), psi1, self.lam1)
        self._feature_steps(self.instrument_net, iz1, lr, self.stage1_iter, loss)

    def _covariate_steps(self, predicted2, w2, y2, lr):
        loss = RidgeLoss(two_stage.OUTCOME_LOSS, predicted2, y2.reshape(-1, 1), self.lam2)
        self._feature_steps(self.covariate_net, w2, lr, self.covariate_iter, loss)

    def _closed_form(self, tx1, iz1, iz2, w2, y2):
        """Both stages at the current networks, from the network inputs of :meth:`_fit`."""
        xi2 = None if self.covariate_net is None else self.covariate_net(w2)
        return self._solve(two_stage.with_intercept(self.instrument_net(iz1)),
                           two_stage.with_intercept(self.instrument_net(iz2)), xi2, tx1, y2)

    def _solve(self, phi1, phi2, xi2, tx1, y2):
        """Both stages given the instrument (and covariate) features; the treatment features at the current net."""
        return two_stage.solve(phi1, self.treatment_net(tx1), phi2, y2, self.lam1, self.lam2, xi2)

    def _networks(self):
        return [net for net in (self.treatment_net, self.instrument_net, self.covariate_net) if net is not None]

    def _restore(self, snapshot):
        for net, params in zip(self._networks(), snapshot):
            net.restore(params)

    def _checkpoint(self, epoch, features, held_out, best):
        """Refit the closed forms; record the losses; keep the networks if the validation loss improved.

        ``features`` are the epoch's ``(phi1, phi2, xi2)`` (their networks have not moved since)
        and the treatment inputs and outcomes ``(tx1, y2)``.
        """
        self.fit_ = self._solve(*features)
        if not np.isfinite(self.fit_.stage2_loss):
            raise self._diverged(epoch, "the stage-2 loss became non-finite")
        self.history["epoch"].append(epoch)
        self.history["stage2_loss"].append(self.fit_.stage2_loss)
        if held_out is None:
            return best
        izv, wv, yv = held_out
        loss = float(np.mean((yv - self._instrument_prediction(izv, wv)) ** 2))
        self.history["validation_loss"].append(loss)
        return (loss, [net.snapshot() for net in self._networks()], epoch) if loss < best[0] else best

    # -- prediction -------------------------------------------------------------------
    def _covariate_inputs(self, x):
        """The covariate columns of ``x`` as the covariate net takes them (None without covariates)."""
        if self._w_in is None:
            return None
        if x is None:
            raise ValueError("this DFIV has covariates: pass the rows x whose covariate columns "
                             f"{self.covariates} go with z")
        return self._w_in(np.atleast_2d(x))

    def _covariate_features(self, x):
        w = self._covariate_inputs(x)
        return None if w is None else self.covariate_net(w)

    def treatment_features_of(self, x):
        """:math:`\\psi(x)` of the fitted treatment network (no intercept); x has the columns of the stage-1 x."""
        return self.treatment_net(self._t_in(fitted_rows(self, "x", x)))

    def predict(self, x):
        r""":math:`\hat f(x) = ([\psi(x), 1]\otimes[\xi(w), 1])\hat u` (in the units of y)."""
        x = fitted_rows(self, "x", x)
        return two_stage.predict(self.fit_, self.treatment_features_of(x), self._covariate_features(x)) * self.y_scale

    def predict_instrument(self, z, x=None):
        r"""Estimated :math:`E[\hat f(X, W)|Z=z, W=w]` (``x``: rows carrying the covariates w; only with covariates)."""
        z = fitted_rows(self, "z", z)
        if x is not None:
            x = fitted_rows(self, "x", x)
            if x.shape[0] != z.shape[0]:
                raise ValueError(f"x must have one row per row of z ({z.shape[0]}), got {x.shape[0]}")
        return self._instrument_prediction(self._z_in(z), self._covariate_inputs(x)) * self.y_scale

    def _instrument_prediction(self, iz, w):
        """:meth:`predict_instrument` from the networks' instrument and covariate inputs, in units of the scaled y."""
        xi = None if w is None else self.covariate_net(w)
        return two_stage.predict_instrument(self.fit_, two_stage.with_intercept(self.instrument_net(iz)), xi)


DEMAND_SETTINGS = dict(treatment_layers=(16,), instrument_layers=(128, 64), treatment_features=1,
                       instrument_features=32, lam1=0.1, lam2=0.1, epochs=100, stage1_iter=20, stage2_iter=1,
                       lr=1e-3, covariates=(1, 2), covariate_layers=(128, 32), covariate_features=16,
                       covariate_iter=20, standardize_inputs=False, instrument_batch_norm=(-1,),
                       covariate_batch_norm=(-2,))
"""The authors' demand-design configuration (``final_configs/dfiv_low_dim/configs.json`` and
``nn_structure_for_demand.py`` of ``liyuan9988/DeepFeatureIV``): treatment net 1-16-1 on the
price, instrument net 3-128-64-32 on (cost, time, emotion), covariate net 2-128-32-16 (ReLU
output) on (time, emotion); lam1 = lam2 = 0.1; 100 epochs of 20 stage-1, 20 covariate and 1
stage-2 full-batch Adam steps at lr 1e-3; raw inputs; BatchNorm1d on the instrument net's
output layer and on the covariate net's last hidden layer (its second product), before its
ReLU (counted from the end, so that they stay there when the widths are overridden). Their
covariate weight decay is rescaled to ours (see ``weight_decay``)."""


def demand_dfiv(**overrides):
    """:class:`DFIV` with :data:`DEMAND_SETTINGS` (for :func:`theorytk.dfiv.demand_design`), any of them overridden."""
    return DFIV(**{**DEMAND_SETTINGS, **overrides})
