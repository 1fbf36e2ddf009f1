"""A PyTorch CPU twin of our DFIV fit on the demand design, for ``benchmarks.dfiv`` only.

PyTorch is optional: it is never a dependency of ``theorytk`` or of CI. This module imports
torch inside its functions, so importing it costs nothing; callers should still check that
torch is installed (``importlib.util.find_spec("torch")``) before calling :func:`fit_predict`.

:func:`authors_fit_predict` runs the authors' own trainer instead (their checkout, named by
``THEORYTK_DFIV_AUTHORS``). The twin, :func:`fit_predict`, is Xu et al.'s algorithm (ICLR 2021;
``liyuan9988/DeepFeatureIV``, ``src/models/DFIV``) in our conventions, so that its test MSE is
comparable with ``theorytk.dfiv.DFIV``:

* treatment input = price ``x[:, 0:1]``, covariates W = ``x[:, 1:3]`` (time, emotion),
  instrument input = ``z`` (cost, time, emotion); with ``standardise=True`` each network
  input is standardised by the mean / sd of the stage-1 rows (sd 0 -> 1), the outcome divided
  by sd(stage-2 y) and the predictions multiplied back; ``standardise=False`` feeds raw
  units, as the authors do.
* nets (``nn.Linear`` default init, ``torch.manual_seed(seed)``): treatment 1-16-ReLU-1;
  instrument 3-128-ReLU-64-ReLU-32 (+ BatchNorm1d(32) if ``batch_norm``); covariate
  2-128-ReLU-32-(BatchNorm1d(32))-ReLU-16-ReLU. With ``batch_norm=True`` this is the authors'
  demand architecture.
* ridge closed forms with penalties lam1 = lam2 = 0.1 on mean losses (the authors' sum losses
  with lam * N), intercept columns appended and penalised; the solves sit inside autograd.
* per epoch (full batch, Adam lr 1e-3, no weight decay): 20 instrument steps on the profiled
  stage-1 loss, 20 covariate steps on the stage-2 loss with stage 1 fixed, 1 treatment step on
  the stage-2 loss differentiated through both solves; then a final closed-form fit.
"""
import time

import numpy as np

LAM1 = LAM2 = 0.1
LR = 1e-3
STAGE1_ITER = COVARIATE_ITER = 20
STAGE2_ITER = 1


def _nets(batch_norm):
    from torch import nn

    treatment = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1))
    instrument = [nn.Linear(3, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 32)]
    if batch_norm:
        instrument.append(nn.BatchNorm1d(32))
    covariate = [nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 32)]
    if batch_norm:
        covariate.append(nn.BatchNorm1d(32))
    covariate += [nn.ReLU(), nn.Linear(32, 16), nn.ReLU()]
    return treatment, nn.Sequential(*instrument), nn.Sequential(*covariate)


def _standardiser(u):
    mean, sd = u.mean(axis=0), u.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return lambda v: (v - mean) / sd


def _ones_col(a):
    import torch

    return torch.cat([a, torch.ones(a.shape[0], 1, dtype=a.dtype)], dim=1)


def _ridge(features, target, lam):
    """Ridge weights (F^T F + N lam I)^{-1} F^T target by Cholesky, differentiable in both arguments."""
    import torch

    n, d = features.shape
    gram = features.T @ features + (n * lam) * torch.eye(d, dtype=features.dtype)
    return torch.cholesky_solve(features.T @ target, torch.linalg.cholesky(gram))


def _ridge_loss(features, target, weight, lam):
    """Mean squared residual plus lam ||weight||^2 (the authors' sum loss divided by N)."""
    return ((target - features @ weight) ** 2).sum() / features.shape[0] + lam * (weight**2).sum()


def _stage2_features(p, xi):
    """Row-wise flatten of outer([p, 1], [xi, 1]): p index major, covariate index minor."""
    p1, x1 = _ones_col(p), _ones_col(xi)
    return (p1[:, :, None] * x1[:, None, :]).reshape(p.shape[0], -1)


def fit_predict(data, *, seed=0, dtype="float64", batch_norm=False, epochs=100, threads=None, standardise=True):
    """Fit DFIV with PyTorch on ``data`` (``theorytk.dfiv.demand_design``); return ``(seconds, test_mse)``.

    ``seconds`` is the wall time of the training, from network construction to the final
    closed-form fit (data generation and the test evaluation excluded); ``test_mse`` is
    ``data.mse`` of the fitted structural function, in raw units. ``dtype`` is "float32"
    (the authors') or "float64" (our precision); ``threads`` sets ``torch.set_num_threads``
    for the call (None: torch's default), restored afterwards; ``standardise``: see the
    module docstring.
    """
    import torch

    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        start = time.perf_counter()
        predict = _train(torch, data, seed, torch_dtype, batch_norm, epochs, standardise)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            mse = data.mse(predict)
    finally:
        torch.set_num_threads(previous_threads)
    return seconds, mse


def _train(torch, data, seed, dtype, batch_norm, epochs, standardise):
    s1, s2 = data.stage1, data.stage2
    if standardise:
        std_t, std_w, std_z = _standardiser(s1.x[:, 0:1]), _standardiser(s1.x[:, 1:3]), _standardiser(s1.z)
        y_scale = float(np.std(s2.y)) or 1.0
    else:
        std_t = std_w = std_z = np.asarray
        y_scale = 1.0

    def tensor(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    x1, z1 = tensor(std_t(s1.x[:, 0:1])), tensor(std_z(s1.z))
    z2, w2, y2 = tensor(std_z(s2.z)), tensor(std_w(s2.x[:, 1:3])), tensor(s2.y[:, None] / y_scale)

    torch.manual_seed(seed)  # init in float32, then cast: both dtypes start from the same weights
    treatment, instrument, covariate = (net.to(dtype) for net in _nets(batch_norm))
    opt_t = torch.optim.Adam(treatment.parameters(), lr=LR)
    opt_i = torch.optim.Adam(instrument.parameters(), lr=LR)
    opt_c = torch.optim.Adam(covariate.parameters(), lr=LR)

    def predicted_treatment(psi1, phi1, phi2):
        """Stage-1 ridge V of psi(X1) on [phi(Z1), 1], evaluated on stage 2: [phi(Z2), 1] V, shape (m, 1)."""
        v = _ridge(_ones_col(phi1), psi1, LAM1)
        return _ones_col(phi2) @ v

    for _ in range(epochs):
        # stage 1: instrument net on the profiled stage-1 loss, treatment features fixed
        treatment.eval()
        instrument.train()
        covariate.eval()
        with torch.no_grad():
            psi1 = treatment(x1)
        for _ in range(STAGE1_ITER):
            opt_i.zero_grad()
            a1 = _ones_col(instrument(z1))
            loss = _ridge_loss(a1, psi1, _ridge(a1, psi1, LAM1), LAM1)
            loss.backward()
            opt_i.step()

        # covariate net on the stage-2 loss, stage 1 fixed
        instrument.eval()
        with torch.no_grad():
            p2 = predicted_treatment(psi1, instrument(z1), instrument(z2))
        covariate.train()
        for _ in range(COVARIATE_ITER):
            opt_c.zero_grad()
            f2 = _stage2_features(p2, covariate(w2))
            loss = _ridge_loss(f2, y2, _ridge(f2, y2, LAM2), LAM2)
            loss.backward()
            opt_c.step()

        # stage 2: treatment net, differentiating through both solves
        covariate.eval()
        treatment.train()
        with torch.no_grad():
            phi1, phi2, xi2 = instrument(z1), instrument(z2), covariate(w2)
        for _ in range(STAGE2_ITER):
            opt_t.zero_grad()
            f2 = _stage2_features(predicted_treatment(treatment(x1), phi1, phi2), xi2)
            loss = _ridge_loss(f2, y2, _ridge(f2, y2, LAM2), LAM2)
            loss.backward()
            opt_t.step()

    # final closed-form fit in eval mode
    for net in (treatment, instrument, covariate):
        net.eval()
    with torch.no_grad():
        p2 = predicted_treatment(treatment(x1), instrument(z1), instrument(z2))
        u = _ridge(_stage2_features(p2, covariate(w2)), y2, LAM2)

    def predict(x):
        x = np.asarray(x, dtype=float)
        with torch.no_grad():
            f = _stage2_features(treatment(tensor(std_t(x[:, 0:1]))), covariate(tensor(std_w(x[:, 1:3]))))
            return (f @ u).double().numpy().reshape(-1) * y_scale

    return predict


AUTHORS_ENV = "THEORYTK_DFIV_AUTHORS"
"""Environment variable naming a checkout of ``liyuan9988/DeepFeatureIV`` (the authors' code; never vendored)."""

AUTHORS_DEMAND_PARAMS = {"lam1": 0.1, "lam2": 0.1, "stage1_iter": 20, "covariate_iter": 20, "stage2_iter": 1,
                         "n_epoch": 100, "split_ratio": 0.5, "treatment_weight_decay": 0.0,
                         "instrumental_weight_decay": 0.0, "covariate_weight_decay": 0.1}
"""``train_params`` of their ``final_configs/dfiv_low_dim/configs.json``."""


def authors_checkout():
    """The path in :data:`AUTHORS_ENV` if it holds the authors' ``src/models/DFIV/trainer.py``, else None."""
    import os

    root = os.environ.get(AUTHORS_ENV)
    if root and os.path.isfile(os.path.join(root, "src", "models", "DFIV", "trainer.py")):
        return root
    return None


def _authors_modules(root):
    """Their ``DFIVTrainer``, ``DFIVModel`` and data classes, imported from the checkout at ``root``.

    Their ``src/data/__init__.py`` imports torchvision (for the MNIST variant) only to offer
    data generators that we do not use: ``src.data`` is registered as a bare package over their
    directory, so that ``src.data.data_class`` and the trainer import without it.
    """
    import sys
    import types

    if root not in sys.path:
        sys.path.insert(0, root)
    if "src.data" not in sys.modules:
        import os

        import src

        package = types.ModuleType("src.data")
        package.__path__ = [os.path.join(root, "src", "data")]
        package.generate_train_data = package.generate_test_data = None   # the trainer's names; never called here
        sys.modules["src.data"] = package
        src.data = package
    from src.data.data_class import TestDataSet, TestDataSetTorch, TrainDataSet, TrainDataSetTorch
    from src.models.DFIV.model import DFIVModel
    from src.models.DFIV.trainer import DFIVTrainer

    return DFIVTrainer, DFIVModel, TrainDataSet, TrainDataSetTorch, TestDataSet, TestDataSetTorch


def authors_fit_predict(data, *, seed=0, threads=None, epochs=None, root=None):
    """Fit the authors' own DFIV (their ``DFIVTrainer`` methods, unchanged) on ``data``; ``(seconds, test_mse)``.

    Their ``train()`` draws its own data and splits it at random; here the epochs of
    ``train()`` run on our ``data.stage1`` / ``data.stage2`` (raw units, float32, as their
    ``TrainDataSetTorch.from_numpy``) after ``torch.manual_seed(seed)`` (their code leaves the
    initialisation unseeded): per epoch ``stage1_update``, ``update_covariate_net``,
    ``stage2_update``, then ``DFIVModel.fit_t`` with lam * N, as in ``train()``. The MSE is
    ``data.mse`` of their ``predict_t`` in eval mode on our test grid. ``seconds`` covers the
    trainer's construction to the final fit. ``root`` defaults to :func:`authors_checkout`.
    """
    import torch

    root = root or authors_checkout()
    if root is None:
        raise ValueError(f"the authors' code was not found: set {AUTHORS_ENV} to a checkout of "
                         "liyuan9988/DeepFeatureIV")
    DFIVTrainer, DFIVModel, TrainDataSet, TrainDataSetTorch, _, _ = _authors_modules(root)
    params = dict(AUTHORS_DEMAND_PARAMS)
    if epochs is not None:
        params["n_epoch"] = int(epochs)

    def stage(sample):
        return TrainDataSetTorch.from_numpy(TrainDataSet(treatment=sample.x[:, 0:1], instrumental=sample.z,
                                                         covariate=sample.x[:, 1:3], outcome=sample.y[:, None],
                                                         structural=data.structural(sample.x)[:, None]))

    first, second = stage(data.stage1), stage(data.stage2)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        start = time.perf_counter()
        torch.manual_seed(seed)
        trainer = DFIVTrainer({"data_name": "demand", "data_size": data.params["n"], "rho": data.params["rho"]}, params)
        trainer.lam1 *= first.treatment.shape[0]
        trainer.lam2 *= second.treatment.shape[0]
        for _ in range(trainer.n_epoch):
            trainer.stage1_update(first, 0)
            trainer.update_covariate_net(first, second, 0)
            trainer.stage2_update(first, second, 0)
        model = DFIVModel(trainer.treatment_net, trainer.instrumental_net, trainer.covariate_net,
                          trainer.add_stage1_intercept, trainer.add_stage2_intercept)
        model.fit_t(first, second, trainer.lam1, trainer.lam2)
        seconds = time.perf_counter() - start
        for net in (trainer.treatment_net, trainer.instrumental_net, trainer.covariate_net):
            net.train(False)

        def predict(x):
            x = np.asarray(x, dtype=float)
            with torch.no_grad():
                out = model.predict_t(torch.tensor(x[:, 0:1], dtype=torch.float32),
                                      torch.tensor(x[:, 1:3], dtype=torch.float32))
            return out.double().numpy().reshape(-1)

        mse = data.mse(predict)
    finally:
        torch.set_num_threads(previous_threads)
    return seconds, mse


def main(argv=None, seeds=(0, 1, 2), rho=0.5, n=5000):
    """Table of seconds and test MSE per (seed, dtype, batch_norm) on the demand design.

    ``python -m benchmarks._dfiv_torch [--threads K] [--epochs E]``; rows are printed as they finish.
    """
    import argparse

    import torch

    from benchmarks._timing import table
    from theorytk.dfiv import demand_design

    parser = argparse.ArgumentParser(prog="python -m benchmarks._dfiv_torch")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args(argv)
    threads = args.threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s); demand design n={n}, rho={rho}, {args.epochs} epochs",
          flush=True)
    rows = []
    for seed in seeds:
        data = demand_design(n, rho, seed=seed)
        for dtype in ("float32", "float64"):
            for batch_norm in (False, True):
                seconds, mse = fit_predict(data, seed=seed, dtype=dtype, batch_norm=batch_norm, epochs=args.epochs,
                                           threads=threads)
                rows.append({"seed": seed, "dtype": dtype, "batch_norm": batch_norm, "s": seconds, "test mse": mse})
                print(f"  seed {seed} {dtype} batch_norm={batch_norm}: {seconds:.1f} s, test mse {mse:.1f}", flush=True)
    print(table(rows, ["seed", "dtype", "batch_norm", "s", "test mse"]))
    summary = []
    for dtype in ("float32", "float64"):
        for batch_norm in (False, True):
            sel = [r for r in rows if r["dtype"] == dtype and r["batch_norm"] == batch_norm]
            summary.append({"dtype": dtype, "batch_norm": batch_norm,
                            "median s": float(np.median([r["s"] for r in sel])),
                            "median mse": float(np.median([r["test mse"] for r in sel]))})
    print(table(summary, ["dtype", "batch_norm", "median s", "median mse"]))


if __name__ == "__main__":
    main()
