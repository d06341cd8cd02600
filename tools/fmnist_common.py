"""Shared helpers for the shiftc fixture generators (make_fixtures.py, make_unseen.py).

Loads Fashion-MNIST from the IDX .gz files, trains small torch models
deterministically and exports them to ONNX the way shiftc expects them:
batch dimension fixed to 1, BatchNormalization kept in the graph (EVAL mode,
no constant folding), input named 'input', output named 'logits'.

Run with Debian's interpreter: /usr/bin/python3 (it has torch, numpy, onnx).
"""
import gzip
import os
import random

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fmnist():
    """Returns (train_x, train_y, test_x, test_y).

    x: float32 (N,1,28,28) scaled to [0,1] (x/255.0, no mean/std normalisation);
    y: int64 (N,).
    """
    def xs(name):
        return (_read_idx(os.path.join(DATA_DIR, name)).astype(np.float32) / 255.0
                ).reshape(-1, 1, 28, 28)

    def ys(name):
        return _read_idx(os.path.join(DATA_DIR, name)).astype(np.int64)

    return (xs("train-images-idx3-ubyte.gz"), ys("train-labels-idx1-ubyte.gz"),
            xs("t10k-images-idx3-ubyte.gz"), ys("t10k-labels-idx1-ubyte.gz"))


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_torch():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)


def train(model, train_x, train_y, seed, epochs=None, steps=None, batch=64, lr=1e-3):
    """Adam + cross-entropy on logits. Either `epochs` or `steps` (total)."""
    g = torch.Generator().manual_seed(seed)
    tx = torch.from_numpy(train_x)
    ty = torch.from_numpy(train_y)
    n = tx.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = nn.CrossEntropyLoss()
    model.train()
    per_epoch = n // batch
    total = steps if steps is not None else epochs * per_epoch
    step = 0
    while step < total:
        perm = torch.randperm(n, generator=g)
        for i in range(per_epoch):
            if step >= total:
                break
            idx = perm[i * batch:(i + 1) * batch]
            opt.zero_grad()
            loss = lossf(model(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
            step += 1
    model.eval()
    return model


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    outs = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, x.shape[0], batch)]
    return torch.cat(outs).numpy()


def accuracy(model, x, y):
    return float((predict(model, x).argmax(1) == y).mean())


def export(model, path, opset):
    # NOTE: torch 1.13 with training=TrainingMode.EVAL runs
    # _jit_pass_onnx_eval_peephole, which fuses Conv+BatchNorm even when
    # do_constant_folding=False. shiftc must fold BN itself, so we put the model
    # in eval mode and export with TrainingMode.PRESERVE: the graph is the
    # inference graph (running statistics, single-output BatchNormalization)
    # but the peephole fusion is skipped.
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path,
                      opset_version=opset,
                      input_names=["input"], output_names=["logits"],
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def op_types(onnx_model):
    return [n.op_type for n in onnx_model.graph.node]
