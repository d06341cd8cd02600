#!/usr/bin/python3
"""Reference per-layer Hessian traces with PyTorch autograd (issue 5).

Evaluates an ONNX model as a torch function of its Conv/Gemm/MatMul weights
and its LSTM/GRU weights W and R (float64), with the same loss as `shiftc
sensitivity` (mean over samples of softmax + NLL of the logits, or NLL when
the model ends in Softmax), and estimates each layer's Tr(H_ii) by
Hutchinson with Rademacher probes over all weights (biases fixed), Hv by
double backward (exact autograd HVP).  An LSTM/GRU node is one layer: its
trace is over W and R together, as shiftc reports it.

LSTM and GRU follow ONNX (default activations; forward, reverse or
bidirectional; clip, input_forget, linear_before_reset, peepholes, layout;
sequence_lens only when every length is the full sequence), written out
step by step in torch, so the reference does not share code with shiftc.
Exports with a literal batch of 1 (Reshape to [1, ...]) are evaluated on
the whole batch: a Reshape whose target starts with 1 while its input's
first dimension is the batch keeps the batch.

BatchNormalization right after a Conv is folded into it exactly as shiftc's
fold_batchnorm pass does (W' = W * s / sqrt(var + eps) per output channel),
because the Hessian w.r.t. folded weights is the one shiftc measures.

Use Debian's python3 (torch 1.13, onnx, numpy):
    /usr/bin/python3 tools/hessian_ref.py tests/fixtures/cnn.onnx \
        --calib tests/fixtures/test_x.npy --labels tests/fixtures/test_y.npy \
        --samples 200 --probes 200 --seed 0 -o tests/fixtures/cnn_hessian_ref.json
(the committed references also pass --act-probes 8; lstm_/gru_hessian_ref.json
are made the same way from lstm.onnx / gru.onnx)
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def fold_bn(model, init):
    """Folds Conv -> BatchNormalization pairs (the Conv output read only by
    the BN) into the Conv.  Returns the node list without the folded BNs."""
    nodes = list(model.graph.node)
    users = {}
    for n in nodes:
        for i in n.input:
            users.setdefault(i, []).append(n)
    out, dropped = [], set()
    by_out = {n.output[0]: n for n in nodes}
    rename = {}
    for n in nodes:
        if n.op_type != "BatchNormalization":
            continue
        prod = by_out.get(n.input[0])
        if prod is None or prod.op_type != "Conv" or len(users.get(n.input[0], [])) != 1:
            continue
        if not all(x in init for x in n.input[1:5]) or prod.input[1] not in init:
            continue
        eps = attrs(n).get("epsilon", 1e-5)
        s, b, mu, var = (init[x].astype(np.float64) for x in n.input[1:5])
        a = s / np.sqrt(var + np.float64(np.float32(eps)))
        w = init[prod.input[1]].astype(np.float64)
        bias = init[prod.input[2]].astype(np.float64) if len(prod.input) > 2 and prod.input[2] else np.zeros(w.shape[0])
        init[prod.input[1]] = w * a.reshape(-1, *([1] * (w.ndim - 1)))
        bname = prod.input[1] + ".folded_bias"
        init[bname] = (bias - mu) * a + b
        newconv = onnx.helper.make_node("Conv", [prod.input[0], prod.input[1], bname], [n.output[0]],
                                        name=prod.name, **attrs(prod))
        rename[id(prod)] = newconv
        dropped.add(id(n))
    for n in nodes:
        if id(n) in dropped:
            continue
        out.append(rename.get(id(n), n))
    return out


def onnx_pads(a, nd):
    p = a.get("pads", [0] * (2 * nd))
    return p


def ints(t):
    return [int(round(float(v))) for v in t.reshape(-1).tolist()]


def rnn(op, ins, a):
    """ONNX LSTM / GRU in torch (float64): returns (Y, Y_h[, Y_c])."""
    acts = [v.decode() if isinstance(v, bytes) else v for v in a.get("activations", [])]
    default = ["Sigmoid", "Tanh", "Tanh"] if op == "LSTM" else ["Sigmoid", "Tanh"]
    if acts and [v.lower() for v in acts] != [v.lower() for v in default] * (len(acts) // len(default)):
        raise SystemExit("hessian_ref.py: %s activations %s are not supported" % (op, acts))
    X = ins[0]
    layout = a.get("layout", 0)
    if layout:
        X = X.transpose(0, 1)
    get = lambda i: ins[i] if len(ins) > i and ins[i] is not None else None
    W, R, B = ins[1], ins[2], get(3)
    T, N, H = X.shape[0], X.shape[1], a["hidden_size"]
    if get(4) is not None and any(v != T for v in ints(get(4))):
        raise SystemExit("hessian_ref.py: %s sequence_lens shorter than the sequence are not supported" % op)
    dirn = a.get("direction", b"forward")
    dirn = dirn.decode() if isinstance(dirn, bytes) else dirn
    D = 2 if dirn == "bidirectional" else 1
    G = 4 if op == "LSTM" else 3
    clip = a.get("clip", None)
    cl = (lambda v: torch.clamp(v, -clip, clip)) if clip is not None else (lambda v: v)
    zeros = torch.zeros(D, N, H, dtype=torch.float64)
    h0 = get(5) if get(5) is not None else zeros
    c0 = (get(6) if get(6) is not None else zeros) if op == "LSTM" else None
    P = get(7) if op == "LSTM" else None
    ys, hs, cs = [], [], []
    for d in range(D):
        rev = dirn == "reverse" or d == 1
        Wd, Rd = W[d], R[d]
        Wb = B[d][: G * H] if B is not None else torch.zeros(G * H, dtype=torch.float64)
        Rb = B[d][G * H:] if B is not None else torch.zeros(G * H, dtype=torch.float64)
        h = h0[d]
        c = c0[d] if c0 is not None else None
        out = [None] * T
        for s in range(T):
            t = T - 1 - s if rev else s
            if op == "LSTM":
                g = X[t] @ Wd.t() + h @ Rd.t() + Wb + Rb
                i, o, f, cc = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
                if P is not None:
                    i = i + P[d][:H] * c
                    f = f + P[d][2 * H:] * c
                i = torch.sigmoid(cl(i))
                f = 1 - i if a.get("input_forget", 0) else torch.sigmoid(cl(f))
                c = f * c + i * torch.tanh(cl(cc))
                if P is not None:
                    o = o + P[d][H:2 * H] * c
                h = torch.sigmoid(cl(o)) * torch.tanh(c)
            else:
                gx = X[t] @ Wd.t() + Wb
                gh = h @ Rd[: 2 * H].t()
                z = torch.sigmoid(cl(gx[:, :H] + gh[:, :H] + Rb[:H]))
                r = torch.sigmoid(cl(gx[:, H:2 * H] + gh[:, H:] + Rb[H:2 * H]))
                if a.get("linear_before_reset", 0):
                    n = torch.tanh(cl(gx[:, 2 * H:] + r * (h @ Rd[2 * H:].t() + Rb[2 * H:])))
                else:
                    n = torch.tanh(cl(gx[:, 2 * H:] + (r * h) @ Rd[2 * H:].t() + Rb[2 * H:]))
                h = (1 - z) * n + z * h
            out[t] = h
        ys.append(torch.stack(out))
        hs.append(h)
        cs.append(c)
    Y, Yh = torch.stack(ys, dim=1), torch.stack(hs)
    Yc = torch.stack(cs) if op == "LSTM" else None
    if layout:
        Y, Yh = Y.permute(2, 0, 1, 3), Yh.transpose(0, 1)
        Yc = Yc.transpose(0, 1) if Yc is not None else None
    return (Y, Yh, Yc) if op == "LSTM" else (Y, Yh)


def run(nodes, init, params, x, graph_out):
    env = dict(init)
    env = {k: (params[k] if k in params else torch.from_numpy(np.asarray(v, dtype=np.float64))) for k, v in init.items()}
    env["__input__"] = x
    for n in nodes:
        a = attrs(n)
        ins = [env[i] if i else None for i in n.input]
        t = n.op_type
        if t == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.t()
            if a.get("transB", 0):
                B = B.t()
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif t == "MatMul":
            y = ins[0] @ ins[1]
        elif t == "Add":
            y = ins[0] + ins[1]
        elif t == "Relu":
            y = F.relu(ins[0])
        elif t == "LeakyRelu":
            y = F.leaky_relu(ins[0], a.get("alpha", 0.01))
        elif t == "Sigmoid":
            y = torch.sigmoid(ins[0])
        elif t == "Tanh":
            y = torch.tanh(ins[0])
        elif t == "Clip":
            lo = float(ins[1]) if len(ins) > 1 and ins[1] is not None else a.get("min", -math.inf)
            hi = float(ins[2]) if len(ins) > 2 and ins[2] is not None else a.get("max", math.inf)
            y = torch.clamp(ins[0], lo, hi)
        elif t == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])) if ax else 1, -1)
        elif t == "Reshape":
            shp = ints(ins[1])
            shp = [ins[0].shape[i] if v == 0 else v for i, v in enumerate(shp)]
            if shp and shp[0] == 1 and ins[0].dim() > 0 and ins[0].shape[0] == x.shape[0] > 1:
                shp[0] = x.shape[0]  # an export with a literal batch of 1
            y = ins[0].reshape(shp)
        elif t == "Shape":
            y = torch.tensor(list(ins[0].shape), dtype=torch.float64)
        elif t == "Gather":
            ax = a.get("axis", 0)
            src, idx = ins[0], ins[1]
            ii = torch.tensor(ints(idx), dtype=torch.long) % src.shape[ax]
            y = src.index_select(ax, ii).reshape(tuple(src.shape[:ax]) + tuple(idx.shape) + tuple(src.shape[ax + 1:]))
        elif t in ("Unsqueeze", "Squeeze"):
            axes = a["axes"] if "axes" in a else (ints(ins[1]) if len(ins) > 1 and ins[1] is not None else None)
            y = ins[0]
            if t == "Unsqueeze":
                r = y.dim() + len(axes)
                for ax in sorted(v % r for v in axes):
                    y = y.unsqueeze(ax)
            else:
                axes = [i for i, d in enumerate(y.shape) if d == 1] if axes is None else axes
                for ax in sorted((v % y.dim() for v in axes), reverse=True):
                    y = y.squeeze(ax)
        elif t == "Expand":
            y = ins[0] * torch.ones(ints(ins[1]), dtype=torch.float64)
        elif t == "ConstantOfShape":
            v = float(numpy_helper.to_array(a["value"]).reshape(-1)[0]) if "value" in a else 0.0
            y = torch.full(ints(ins[0]), v, dtype=torch.float64)
        elif t in ("LSTM", "GRU"):
            y = rnn(t, ins, a)
        elif t == "Transpose":
            y = ins[0].permute(*a["perm"])
        elif t == "Concat":
            y = torch.cat(ins, dim=a["axis"])
        elif t == "Constant":
            y = torch.from_numpy(numpy_helper.to_array(a["value"]).astype(np.float64)) if "value" in a \
                else torch.tensor(float(a.get("value_float", 0.0)), dtype=torch.float64)
        elif t == "Pad":
            pads = [int(v) for v in (ins[1].tolist() if len(ins) > 1 and ins[1] is not None else a["pads"])]
            r = ins[0].dim()
            tp = []
            for i in reversed(range(r)):
                tp += [pads[i], pads[i + r]]
            val = float(ins[2]) if len(ins) > 2 and ins[2] is not None else a.get("value", 0.0)
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            y = F.pad(ins[0], tp, mode=mode, value=val) if mode == "constant" else F.pad(ins[0], tp, mode=mode)
        elif t in ("Identity", "Dropout"):
            y = ins[0]
        elif t == "Softmax":
            y = torch.softmax(ins[0], dim=a.get("axis", -1))
        elif t == "Conv":
            nd = ins[1].dim() - 2
            p = onnx_pads(a, nd)
            xx = ins[0]
            if any(p[i] != p[i + nd] for i in range(nd)):
                pad = []
                for i in reversed(range(nd)):
                    pad += [p[i], p[i + nd]]
                xx, pp = F.pad(xx, pad), [0] * nd
            else:
                pp = p[:nd]
            conv = F.conv2d if nd == 2 else F.conv1d
            y = conv(xx, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1] * nd),
                     padding=pp, dilation=a.get("dilations", [1] * nd), groups=a.get("group", 1))
        elif t == "BatchNormalization":
            s, b, mu, var = ins[1:5]
            shape = [1, -1] + [1] * (ins[0].dim() - 2)
            y = (ins[0] - mu.reshape(shape)) / torch.sqrt(var.reshape(shape) + a.get("epsilon", 1e-5)) * s.reshape(shape) + b.reshape(shape)
        elif t in ("MaxPool", "AveragePool"):
            k = a["kernel_shape"]
            nd = len(k)
            p = onnx_pads(a, nd)
            if any(p[i] != p[i + nd] for i in range(nd)):
                raise SystemExit("hessian_ref.py: asymmetric pool pads are not supported")
            f = {("MaxPool", 2): F.max_pool2d, ("MaxPool", 1): F.max_pool1d,
                 ("AveragePool", 2): F.avg_pool2d, ("AveragePool", 1): F.avg_pool1d}[(t, nd)]
            kw = dict(stride=a.get("strides", k), padding=p[:nd], ceil_mode=bool(a.get("ceil_mode", 0)))
            if t == "AveragePool":
                kw["count_include_pad"] = bool(a.get("count_include_pad", 0))
            y = f(ins[0], k, **kw)
        elif t == "GlobalAveragePool":
            y = ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True)
        else:
            raise SystemExit("hessian_ref.py: op %s not supported" % t)
        if isinstance(y, tuple):
            for name, v in zip(n.output, y):
                if name:
                    env[name] = v
        else:
            env[n.output[0]] = y
    return env[graph_out], env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--calib", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--act-probes", type=int, default=0,
                    help="also each layer's input-activation trace (mean over samples), N probes")
    ap.add_argument("-o", "--output", help="write JSON here (default stdout)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()

    model = onnx.load(args.model)
    init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    nodes = fold_bn(model, init)
    gin = [i.name for i in model.graph.input if i.name not in init][0]
    nodes = [onnx.helper.make_node(n.op_type, ["__input__" if i == gin else i for i in n.input], list(n.output),
                                   name=n.name, **attrs(n)) for n in nodes]
    layers = []  # (node name, op, weight names): Conv/Dense one, LSTM/GRU W and R
    acts = []    # input activation of each layer
    act_batch_axis = {}  # where it is not axis 0
    for n in nodes:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in init:
            layers.append((n.name, "Dense" if n.op_type != "Conv" else "Conv", [n.input[1]]))
            acts.append(n.input[0])
        elif n.op_type in ("LSTM", "GRU") and n.input[1] in init and n.input[2] in init:
            layers.append((n.name, n.op_type, [n.input[1], n.input[2]]))
            acts.append(n.input[0])
            act_batch_axis[len(acts) - 1] = 0 if attrs(n).get("layout", 0) else 1  # X [T, N, I]
    wnames = [w for _, _, ws in layers for w in ws]
    params = {w: torch.tensor(init[w], dtype=torch.float64, requires_grad=True) for w in wnames}
    plist = [params[w] for w in wnames]
    # the blocks (indices into plist) of each layer
    blocks, k = [], 0
    for _, _, ws in layers:
        blocks.append(list(range(k, k + len(ws))))
        k += len(ws)

    x = np.load(args.calib)[: args.samples].astype(np.float64)
    y = np.load(args.labels)[: args.samples].astype(np.int64)
    in_shape = [d.dim_value for d in model.graph.input[[i.name for i in model.graph.input].index(gin)].type.tensor_type.shape.dim]
    x = x.reshape([x.shape[0]] + in_shape[1:])
    xt, yt = torch.from_numpy(x).requires_grad_(args.act_probes > 0), torch.from_numpy(y)
    out_name = model.graph.output[0].name
    last = [n for n in nodes if out_name in n.output][0]

    out, env = run(nodes, init, params, xt, out_name)
    out = out.reshape(out.shape[0], -1)
    if last.op_type == "Softmax":
        loss = F.nll_loss(torch.log(out), yt)
    else:
        loss = F.cross_entropy(out, yt)
    grads = torch.autograd.grad(loss, plist, create_graph=True)

    gen = torch.Generator().manual_seed(args.seed)
    vals = np.zeros((args.probes, len(layers)))
    for p in range(args.probes):
        vs = [torch.randint(0, 2, q.shape, generator=gen, dtype=torch.float64) * 2 - 1 for q in plist]
        hv = torch.autograd.grad(grads, plist, grad_outputs=vs, retain_graph=True)
        per = [float((v * h).sum()) for v, h in zip(vs, hv)]
        vals[p] = [sum(per[i] for i in b) for b in blocks]
    elapsed = time.time() - t0
    act = None
    if args.act_probes > 0:
        # the Hessian of the summed per-sample losses w.r.t. a batch of
        # activations is block diagonal over samples: v.Hv summed per row
        # is a probe of that sample's trace
        lsum = loss * len(x)
        atens = [env[a] for a in acts]
        ag = torch.autograd.grad(lsum, atens, create_graph=True)
        per = np.zeros((len(x), len(acts)))
        for p in range(args.act_probes):
            vs = [torch.randint(0, 2, a.shape, generator=gen, dtype=torch.float64) * 2 - 1 for a in atens]
            hv = torch.autograd.grad(ag, atens, grad_outputs=vs, retain_graph=True)
            for i, (v, h) in enumerate(zip(vs, hv)):
                vh = (v * h).transpose(0, act_batch_axis.get(i, 0))
                per[:, i] += vh.reshape(len(x), -1).sum(1).detach().numpy() / args.act_probes
        act = per
    res = {"model": args.model.split("/")[-1], "samples": len(x), "probes": args.probes, "seed": args.seed,
           "loss": float(loss), "layers": []}
    for (name, op, ws), col in zip(layers, vals.T):
        res["layers"].append({"name": name, "op": op, "params": int(sum(init[w].size for w in ws)),
                              "trace": float(col.mean()),
                              "stderr": float(col.std(ddof=1) / math.sqrt(len(col)))})
    if act is not None:
        for L, col in zip(res["layers"], act.T):
            L["act_trace"] = float(col.mean())
            L["act_stderr"] = float(col.std(ddof=1) / math.sqrt(len(col)))
    print("hessian_ref.py: %s: %d samples, %d probes in %.2f s" % (args.model, len(x), args.probes, elapsed),
          file=sys.stderr)
    text = json.dumps(res, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
