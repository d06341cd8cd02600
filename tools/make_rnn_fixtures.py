#!/usr/bin/python3
"""Regenerate the recurrent (LSTM/GRU) fixtures for shiftc.

    /usr/bin/python3 tools/make_rnn_fixtures.py [OUT_DIR] [--untrained] [--dump]
    (default OUT_DIR = tests/fixtures; needs tests/fixtures/test_x.npy and
    test_y.npy from tools/make_fixtures.py)

Fashion-MNIST images are read as sequences: the (1,1,28,28) input is reshaped
inside the model to 28 time steps x 28 features (rows; one model reads columns).
The initial state is not passed, so torch's exporter emits its usual
Shape/Gather/Unsqueeze/Concat/Expand/ConstantOfShape glue for the zero h0/c0.
Exported with torch.onnx.export at torch 1.13's default opset (14), default
options (constant folding on, EVAL mode), batch fixed at 1, input 'input',
output 'logits'.

Writes:
  lstm.onnx, gru.onnx                 LSTM/GRU(28->32) on rows, h_n[-1], Linear(32,10)
  lstm_ref_logits.npy, gru_ref_logits.npy   float32 (600,10): torch logits on test_x.npy
  rnn_unseen/{lstm2,gru2,lstm_cols,gru_tmajor}.onnx  smaller, briefly trained models
  rnn_unseen/<model>_ref_logits.npy   float32 (100,10): torch logits on test_x[:100]
  rnn_unseen/manifest.txt             <file> <torch float acc on test_x.npy (600)>
                                      <acc on the full 10k test set or ->, all six

--untrained exports the models without training (for looking at the graphs);
--dump prints every node (op type, inputs, outputs, attributes) of each export.
Deterministic: fixed seeds, deterministic torch algorithms, 2 threads.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no tools/__pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as fc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_REF_UNSEEN = 100
N_CHECK = 20  # images checked with the numpy evaluator


class SeqModel(nn.Module):
    """Base: (N,1,28,28) -> (N,28,28). In export mode the reshape uses the
    literal batch 1 (x.reshape(1,28,28)); while training/evaluating in
    batches it uses -1. Both compute the same thing."""

    def __init__(self):
        super().__init__()
        self.export_batch1 = False

    def seq(self, x):
        return x.reshape(1 if self.export_batch1 else -1, 28, 28)


class RowRNN(SeqModel):
    """rows as time steps, batch_first=True, final hidden state of the last layer."""

    def __init__(self, cell, hidden, layers=1):
        super().__init__()
        self.rnn = cell(28, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        _, h = self.rnn(self.seq(x))
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        return self.fc(h[-1])


class ColLSTMRelu(SeqModel):
    """columns as time steps (transpose inside the model), ReLU before the Linear."""

    def __init__(self, hidden=16):
        super().__init__()
        self.rnn = nn.LSTM(28, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        _, (h, _) = self.rnn(self.seq(x).transpose(1, 2))
        return self.fc(torch.relu(h[-1]))


class TimeMajorGRU(SeqModel):
    """batch_first=False: (N,T,F) is permuted to (T,N,F) inside the model."""

    def __init__(self, hidden=12):
        super().__init__()
        self.rnn = nn.GRU(28, hidden)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        _, h = self.rnn(self.seq(x).permute(1, 0, 2))
        return self.fc(h[-1])


class LastStepRNN(SeqModel):
    """out[:, -1, :] of the sequence output (the most common torch idiom),
    optionally bidirectional (the last step holds the forward direction's
    final state and the reverse direction's first step)."""

    def __init__(self, cell, hidden, bidirectional=False):
        super().__init__()
        self.rnn = cell(28, hidden, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), 10)

    def forward(self, x):
        out, _ = self.rnn(self.seq(x))
        return self.fc(out[:, -1, :])


class BiFinalRNN(SeqModel):
    """bidirectional, the two directions' final states h_n[-2], h_n[-1]
    concatenated."""

    def __init__(self, cell, hidden):
        super().__init__()
        self.rnn = cell(28, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 10)

    def forward(self, x):
        _, h = self.rnn(self.seq(x))
        if isinstance(h, tuple):
            h = h[0]
        return self.fc(torch.cat([h[-2], h[-1]], 1))


def export(model, path):
    import onnx
    model.eval()
    model.export_batch1 = True
    try:
        # the exporter warns about LSTM/GRU batch sizes and prim::Constant
        # shape inference; both are harmless here (batch fixed to 1).
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path,
                          input_names=["input"], output_names=["logits"])
    finally:
        model.export_batch1 = False
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def dump(m, title):
    from onnx import helper, numpy_helper
    print("==== %s: opset %s, ir_version %d, producer %s %s" % (
        title, [(o.domain or "ai.onnx", o.version) for o in m.opset_import],
        m.ir_version, m.producer_name, m.producer_version))
    g = m.graph
    for i in g.input:
        print("  input  %s %s" % (i.name, [d.dim_value or d.dim_param for d in
                                           i.type.tensor_type.shape.dim]))
    for o in g.output:
        print("  output %s %s" % (o.name, [d.dim_value or d.dim_param for d in
                                           o.type.tensor_type.shape.dim]))
    for t in g.initializer:
        a = numpy_helper.to_array(t)
        print("  init   %-28s %s %s" % (t.name, a.dtype, list(a.shape)))
    for n in g.node:
        attrs = []
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            if a.type == onnx_tensor_type():
                arr = numpy_helper.to_array(v)
                v = "tensor %s %s %s" % (arr.dtype, list(arr.shape),
                                         arr.tolist() if arr.size <= 8 else "...")
            elif isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, list):
                v = [x.decode() if isinstance(x, bytes) else x for x in v]
            attrs.append("%s=%s" % (a.name, v))
        print("  %-16s %s -> %s  %s" % (n.op_type, list(n.input), list(n.output),
                                         " ".join(attrs)))


def onnx_tensor_type():
    import onnx
    return onnx.AttributeProto.TENSOR


# ---------------------------------------------------------------------------
# Independent numpy evaluator of the exported graphs (only the ops the exporter
# emits here), used to check each .onnx against torch. Follows the ONNX spec:
# LSTM gates i,o,f,c; GRU gates z,r,h; B = [Wb | Rb]; layout 0.

def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _directions(cell, x, W, R, B, *state):
    """ONNX layout over num_directions = W.shape[0]: direction 1 runs the
    sequence backwards; returns Y [T, D, N, H] and the final states [D, N, H]."""
    outs = []
    for d in range(W.shape[0]):
        xs = x[::-1] if d == 1 else x
        r = cell(xs, W[d], R[d], B[d], *(s[d] for s in state))
        y = r[0][::-1] if d == 1 else r[0]
        outs.append((y,) + r[1:])
    return [np.stack([o[0] for o in outs], 1)] + [np.stack([o[k] for o in outs]) for k in range(1, len(outs[0]))]


def _lstm(x, W, R, B, h, c):
    return _directions(_lstm1, x, W, R, B, h, c)


def _gru(x, W, R, B, h, linear_before_reset):
    return _directions(lambda *a: _gru1(*a, linear_before_reset), x, W, R, B, h)


def _lstm1(x, W, R, B, h, c):
    H = R.shape[-1]
    W, R, B = W.astype(np.float64), R.astype(np.float64), B.astype(np.float64)
    b = B[:4 * H] + B[4 * H:]
    h, c = h.astype(np.float64), c.astype(np.float64)
    ys = []
    for t in range(x.shape[0]):
        g = x[t] @ W.T + h @ R.T + b
        i, o, f, cc = (g[:, k * H:(k + 1) * H] for k in range(4))
        c = _sig(f) * c + _sig(i) * np.tanh(cc)
        h = _sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys), h, c


def _gru1(x, W, R, B, h, linear_before_reset):
    assert linear_before_reset == 1
    H = R.shape[-1]
    W, R, B = W.astype(np.float64), R.astype(np.float64), B.astype(np.float64)
    wb, rb = B[:3 * H], B[3 * H:]
    h = h.astype(np.float64)
    ys = []
    for t in range(x.shape[0]):
        gx = x[t] @ W.T + wb
        gh = h @ R.T + rb
        z = _sig(gx[:, :H] + gh[:, :H])
        r = _sig(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys), h


def eval_onnx(m, x):
    """Runs graph m on one input x (1,1,28,28); returns the first output."""
    from onnx import helper, numpy_helper
    env = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    env[m.graph.input[0].name] = x.astype(np.float64)
    env[""] = None
    for n in m.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        i = [env[k] for k in n.input]
        op = n.op_type
        if op == "Constant":
            r = [numpy_helper.to_array(a["value"])]
        elif op == "Reshape":
            # 0 keeps the input's dimension (allowzero unset)
            r = [i[0].reshape([int(v) if v != 0 else i[0].shape[k] for k, v in enumerate(i[1])])]
        elif op == "Transpose":
            r = [i[0].transpose(a["perm"])]
        elif op == "Shape":
            r = [np.array(i[0].shape, dtype=np.int64)]
        elif op == "Gather":
            r = [np.take(i[0], i[1], axis=a.get("axis", 0))]
        elif op == "Unsqueeze":
            r = [np.expand_dims(i[0], tuple(int(v) for v in i[1]))]
        elif op == "Squeeze":
            r = [np.squeeze(i[0], tuple(int(v) for v in i[1]))]
        elif op == "Concat":
            r = [np.concatenate(i, axis=a["axis"])]
        elif op == "Expand":
            r = [i[0] * np.ones([int(v) for v in i[1]], dtype=i[0].dtype)]
        elif op == "LSTM":
            assert set(a) - {"direction"} == {"hidden_size"} and len(i) == 7 and i[4] is None, (a, n.input)
            r = _lstm(i[0], i[1], i[2], i[3], i[5], i[6])
        elif op == "GRU":
            assert set(a) - {"direction"} == {"hidden_size", "linear_before_reset"} and len(i) == 6, a
            assert i[4] is None
            r = _gru(i[0], i[1], i[2], i[3], i[5], a["linear_before_reset"])
        elif op == "Slice":  # opset 10+: starts, ends, axes (steps 1)
            sl = [slice(None)] * i[0].ndim
            for st, en, ax in zip(i[1], i[2], i[3]):
                sl[int(ax)] = slice(int(st), int(en))
            r = [i[0][tuple(sl)]]
        elif op == "Relu":
            r = [np.maximum(i[0], 0)]
        elif op == "Gemm":
            assert a.get("transB") == 1 and a.get("alpha") == 1 and a.get("beta") == 1
            r = [i[0] @ i[1].T + i[2]]
        else:
            raise ValueError("numpy evaluator: unexpected op " + op)
        for k, v in zip(n.output, r):
            env[k] = v
    return env[m.graph.output[0].name]


def check_onnx(m, x, ref, tol=1e-4):
    got = np.concatenate([eval_onnx(m, x[k:k + 1]) for k in range(x.shape[0])])
    err = float(np.abs(got - ref).max())
    assert err < tol, err
    return err


def old_manifest_line(udir, name):
    """The manifest line of a model that is not regenerated."""
    with open(os.path.join(udir, "manifest.txt")) as f:
        for line in f:
            if line.split()[0] in (name + ".onnx", "../%s.onnx" % name):
                return line.rstrip("\n")
    sys.exit("make_rnn_fixtures.py: %s is not in the manifest; regenerate it too" % name)


def main():
    ap = argparse.ArgumentParser(description="regenerate shiftc LSTM/GRU fixtures")
    ap.add_argument("out", nargs="?", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--untrained", action="store_true",
                    help="export untrained models only (graph inspection)")
    ap.add_argument("--dump", action="store_true", help="print the exported graphs")
    ap.add_argument("--only", help="comma-separated model names to regenerate (the manifest keeps "
                    "the other models' lines)")
    args = ap.parse_args()
    out = args.out
    udir = os.path.join(out, "rnn_unseen")
    os.makedirs(udir, exist_ok=True)
    fc.setup_torch()
    t0 = time.time()

    fix = os.path.join(ROOT, "tests", "fixtures")
    sub_x = np.load(os.path.join(fix, "test_x.npy"))
    sub_y = np.load(os.path.join(fix, "test_y.npy"))
    if args.untrained:
        train_x = train_y = test_x = test_y = None
    else:
        train_x, train_y, test_x, test_y = fc.load_fmnist()
        assert np.array_equal(test_x[:sub_x.shape[0]], sub_x)

    # name, constructor, seed, training (epochs or steps), lr, directory, n ref
    specs = (
        ("lstm", lambda: RowRNN(nn.LSTM, 32), 11, dict(epochs=4), 2e-3, out, None),
        ("gru", lambda: RowRNN(nn.GRU, 32), 12, dict(epochs=4), 2e-3, out, None),
        ("lstm2", lambda: RowRNN(nn.LSTM, 20, layers=2), 21, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
        ("gru2", lambda: RowRNN(nn.GRU, 24, layers=2), 22, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
        ("lstm_cols", lambda: ColLSTMRelu(16), 23, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
        ("gru_tmajor", lambda: TimeMajorGRU(12), 24, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
        ("lstm_last", lambda: LastStepRNN(nn.LSTM, 20), 25, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
        ("gru_bi_last", lambda: LastStepRNN(nn.GRU, 12, bidirectional=True), 26, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
        ("lstm_bi", lambda: BiFinalRNN(nn.LSTM, 12), 27, dict(steps=300), 3e-3,
         udir, N_REF_UNSEEN),
    )
    only = set(args.only.split(",")) if args.only else None
    manifest = []
    for name, ctor, seed, tr, lr, d, nref in specs:
        if only is not None and name not in only:
            manifest.append(old_manifest_line(udir, name))
            continue
        t1 = time.time()
        fc.seed_all(seed)
        model = ctor()
        if not args.untrained:
            fc.train(model, train_x, train_y, seed=seed, lr=lr, **tr)
        t_train = time.time() - t1
        model.eval()
        acc_sub = fc.accuracy(model, sub_x, sub_y)
        ref_x = sub_x if nref is None else sub_x[:nref]
        ref = fc.predict(model, ref_x).astype(np.float32)
        path = os.path.join(d, "%s.onnx" % name)
        m = export(model, path)
        if args.dump:
            dump(m, name)
        err = check_onnx(m, sub_x[:N_CHECK], ref[:N_CHECK])
        if args.untrained:
            print("%s: untrained export, numpy-vs-torch max |diff| %.2e, ops=%s"
                  % (name, err, fc.op_types(m)))
            continue
        np.save(os.path.join(d, "%s_ref_logits.npy" % name), ref)
        if nref is None:
            acc_full = fc.accuracy(model, test_x, test_y)
            manifest.append("../%s.onnx %.4f %.4f" % (name, acc_sub, acc_full))
            print("%s: train %.1fs %s  acc test_x(600)=%.4f  acc full test(10k)=%.4f"
                  % (name, t_train, tr, acc_sub, acc_full))
        else:
            manifest.append("%s.onnx %.4f -" % (name, acc_sub))
            print("%s: train %.1fs %s  acc test_x(600)=%.4f" % (name, t_train, tr, acc_sub))
        print("   numpy evaluation of the .onnx vs torch on test_x[:%d]: max |diff| %.2e"
              % (N_CHECK, err))
        print("   ops=%s" % fc.op_types(m))
    if not args.untrained:
        with open(os.path.join(udir, "manifest.txt"), "w") as f:
            f.write("# file  torch float acc on tests/fixtures/test_x.npy (600)"
                    "  acc on the full 10k test set (- = not measured)\n")
            f.write("\n".join(manifest) + "\n")
    print("total %.1fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
