#!/usr/bin/python3
"""Ternary-aware (QAT) LSTM and GRU fixtures for shiftc's ternary weight format.

    /usr/bin/python3 tools/make_rnn_ternary.py [OUT_DIR] [--eval]
    (default OUT_DIR = tests/fixtures; needs test_x.npy / test_y.npy there and
    Fashion-MNIST in $FMNIST_DIR, see fmnist_common.py)

Same architecture, data, seeding and export as tools/make_rnn_fixtures.py
(RowRNN: the image read as 28 rows x 28 features, nn.LSTM/nn.GRU(28, 32,
batch_first=True), h_n[-1] -> Linear(32, 10); opset 14, input 'input',
output 'logits', batch 1), but trained ternary-aware:

  1. float pre-training, FLOAT_EPOCHS epochs (Adam, batch 64, lr 2e-3);
  2. ternary quantization-aware fine-tuning, QAT_EPOCHS epochs (Adam, batch
     64, lr QAT_LR with cosine decay to 0, gradient norm clipped to 1).
     In the forward pass every row of W_ih [G*H, 28], of W_hh [G*H, 32] and of
     the Linear weight [10, 32] is replaced by its TWN ternarization, the rule
     of shiftc's ir/formats.c fmt_twn: delta = 0.7 * mean|w| of the row,
     codes sign(w) where |w| > delta else 0, scale = mean |w| over the kept
     weights.  Straight-through estimator: w + (w_q - w).detach(), so the
     gradient updates the latent float weights unchanged.  Biases stay float.
     The recurrence itself is torch's native LSTM/GRU kernel (_VF.lstm /
     _VF.gru, what nn.LSTM/nn.GRU call) fed with the ternarized matrices.

The exported files hold the ternarized weights themselves: every row of W, R
(LSTM/GRU) and of the Gemm weight has exactly one distinct nonzero |value|
(checked), so shiftc's TWN quantizer reproduces them exactly (its threshold
0.7*mean|w| is below that value and the kept-weight mean is that value).

Writes OUT_DIR/lstm_tern.onnx and OUT_DIR/gru_tern.onnx.  --eval also runs
build/shiftc eval (ternary 8-bit act, ternary 16-bit act, int8) on them.
Deterministic: fixed seeds, deterministic torch algorithms, 1 thread.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no tools/__pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as fc  # noqa: E402
import make_rnn_fixtures as mrf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIDDEN = 32
FLOAT_EPOCHS = 4
FLOAT_LR = 2e-3
QAT_EPOCHS = 4
QAT_LR = 1e-3
BATCH = 64
TWN_DELTA = 0.7  # ir/formats.h FMT_TWN_DELTA


def ternarize_rows(w):
    """TWN per row of a 2-D tensor: values in {-s_row, 0, +s_row} (float32)."""
    a = w.abs()
    delta = TWN_DELTA * a.mean(dim=1, keepdim=True)
    mask = (a > delta).to(w.dtype)
    n = mask.sum(dim=1, keepdim=True)
    scale = (a * mask).sum(dim=1, keepdim=True) / n.clamp(min=1)
    return scale * torch.sign(w) * mask


def ste(w):
    """Ternarized forward, identity gradient to the latent weights."""
    return w + (ternarize_rows(w) - w).detach()


class TernaryQAT(nn.Module):
    """Ternary-aware forward of a make_rnn_fixtures.RowRNN (1 layer, batch_first)."""

    def __init__(self, base):
        super().__init__()
        self.base = base
        self.lstm = isinstance(base.rnn, nn.LSTM)

    def forward(self, x):
        rnn = self.base.rnn
        xs = self.base.seq(x)
        ws = [ste(rnn.weight_ih_l0), ste(rnn.weight_hh_l0), rnn.bias_ih_l0, rnn.bias_hh_l0]
        h0 = xs.new_zeros(1, xs.shape[0], rnn.hidden_size)
        if self.lstm:
            _, h, _ = torch._VF.lstm(xs, (h0, h0), ws, True, 1, 0.0, self.training, False, True)
        else:
            _, h = torch._VF.gru(xs, h0, ws, True, 1, 0.0, self.training, False, True)
        return F.linear(h[-1], ste(self.base.fc.weight), self.base.fc.bias)

    @torch.no_grad()
    def bake(self):
        """Replaces the latent weights of the base model by their ternarization."""
        for p in (self.base.rnn.weight_ih_l0, self.base.rnn.weight_hh_l0, self.base.fc.weight):
            p.copy_(ternarize_rows(p))
        self.base.rnn.flatten_parameters()


def train_qat(model, train_x, train_y, seed, epochs, lr):
    """Like fmnist_common.train, plus cosine lr decay and gradient clipping."""
    g = torch.Generator().manual_seed(seed)
    tx, ty = torch.from_numpy(train_x), torch.from_numpy(train_y)
    n = tx.shape[0]
    per_epoch = n // BATCH
    total = epochs * per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))
    lossf = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(per_epoch):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            opt.zero_grad()
            loss = lossf(model(tx[idx]), ty[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    model.eval()
    return model


def check_rows(m):
    """Every row of LSTM/GRU W, R and Gemm B has one distinct nonzero |value|.
    Returns (number of rows checked, fraction of zero codes)."""
    from onnx import numpy_helper
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    mats = []
    for nd in m.graph.node:
        if nd.op_type in ("LSTM", "GRU"):
            mats += [inits[nd.input[1]][0], inits[nd.input[2]][0]]
        elif nd.op_type == "Gemm":
            mats.append(inits[nd.input[1]])
    rows = zeros = total = 0
    for w in mats:
        assert w.dtype == np.float32 and w.ndim == 2
        for r in w:
            nz = np.unique(np.abs(r[r != 0]))
            assert nz.size == 1, nz
            rows += 1
        zeros += int((w == 0).sum())
        total += w.size
    assert len(mats) == 3
    return rows, zeros / total


def shiftc_eval(path):
    fix = os.path.join(ROOT, "tests", "fixtures")
    res = []
    for extra in (["--weights", "ternary"], ["--weights", "ternary", "--act-bits", "16"], []):
        out = subprocess.run(
            [os.path.join(ROOT, "build", "shiftc"), "eval", path,
             "--calib", os.path.join(fix, "calib.npy"), "--data", os.path.join(fix, "test_x.npy"),
             "--labels", os.path.join(fix, "test_y.npy")] + extra,
            check=True, capture_output=True, text=True).stdout
        acc = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "accuracy":
                acc[parts[0]] = parts[2]
        res.append((" ".join(extra) or "int8", acc))
    return res


def main():
    ap = argparse.ArgumentParser(description="ternary-aware LSTM/GRU fixtures for shiftc")
    ap.add_argument("out", nargs="?", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--eval", action="store_true", help="run build/shiftc eval on the results")
    args = ap.parse_args()
    fc.setup_torch()
    torch.set_num_threads(1)
    t0 = time.time()

    fix = os.path.join(ROOT, "tests", "fixtures")
    sub_x = np.load(os.path.join(fix, "test_x.npy"))
    sub_y = np.load(os.path.join(fix, "test_y.npy"))
    train_x, train_y, test_x, test_y = fc.load_fmnist()
    assert np.array_equal(test_x[:sub_x.shape[0]], sub_x)

    for name, cell, seed in (("lstm_tern", nn.LSTM, 31), ("gru_tern", nn.GRU, 32)):
        t1 = time.time()
        fc.seed_all(seed)
        base = mrf.RowRNN(cell, HIDDEN)
        fc.train(base, train_x, train_y, seed=seed, epochs=FLOAT_EPOCHS, lr=FLOAT_LR)
        f_sub, f_full = fc.accuracy(base, sub_x, sub_y), fc.accuracy(base, test_x, test_y)
        q = TernaryQAT(base)
        pre_sub = fc.accuracy(q, sub_x, sub_y)  # ternarized, before fine-tuning
        t2 = time.time()
        train_qat(q, train_x, train_y, seed=seed + 100, epochs=QAT_EPOCHS, lr=QAT_LR)
        t3 = time.time()
        qat_sub = fc.accuracy(q, sub_x, sub_y)
        q.bake()
        t_sub, t_full = fc.accuracy(base, sub_x, sub_y), fc.accuracy(base, test_x, test_y)
        assert t_sub == qat_sub, (t_sub, qat_sub)
        path = os.path.join(args.out, "%s.onnx" % name)
        m = mrf.export(base, path)
        ref = fc.predict(base, sub_x[:mrf.N_CHECK]).astype(np.float32)
        err = mrf.check_onnx(m, sub_x[:mrf.N_CHECK], ref)
        rows, zfrac = check_rows(m)
        print("%s: float pre-training %.0fs: acc test_x(600)=%.4f full(10k)=%.4f; "
              "ternarized without QAT: test_x=%.4f" % (name, t2 - t1, f_sub, f_full, pre_sub))
        print("   ternary QAT %.0fs: ternary model (torch float) acc test_x(600)=%.4f "
              "full(10k)=%.4f" % (t3 - t2, t_sub, t_full))
        print("   %s: %d bytes, %d rows checked (one |value| each), %.1f%% zero codes, "
              "numpy-vs-torch max |diff| %.2e" % (path, os.path.getsize(path), rows,
                                                  100 * zfrac, err))
        if args.eval:
            for opt, acc in shiftc_eval(path):
                print("   shiftc eval %-34s float %s quant %s" % (
                    opt, acc.get("float"), acc.get("quant")))
    print("total %.1fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
