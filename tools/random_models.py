#!/usr/bin/env python3
"""Random models for differential testing (tests/random.sh).

    tools/random_models.py SEED DIR

writes into DIR, deterministically for SEED:
  model.lua    a small random graph in the Lua model spec (docs/luaspec.md),
               every weight inline: chains and small DAGs of conv2d (stride,
               pad, dilation, groups, depthwise), dense, batchnorm, max/avg/
               global pooling, add (also broadcast), concat (any axis),
               relu/relu6/clip/leaky_relu/sigmoid/tanh, softmax, flatten,
               reshape; sometimes two model outputs
  calib.npy    calibration inputs, float32
  data.npy     test inputs: the first FLOAT_ROWS calibration inputs, then
               inputs at up to twice the calibrated range (saturation paths)
  labels.npy   dummy int64 labels (eval needs them)
  options      one line: the compile/eval options (weight format, act bits,
               kernel style, clip method, bias correction, sometimes a budget)
  info         "outputs=N float_rows=N coarse=0|1|2 name=NAME" for the test script

Shapes stay small so a model compiles and runs in well under a second.
Only the standard library and numpy are used.
"""
import os
import re
import sys

import numpy as np

FORMATS = ["int2", "int3", "int4", "int5", "int6", "int7", "int8",
           "ternary", "ttq", "pot", "nhot2", "nhot3", "apot"]
# the float bound's classes (tests/random.sh): 0 fine, 1 coarse, 2 ternary
# (ttq's fixed threshold of 0.05 max|w| leaves few zeros on untrained
# weights; a budget may pick ternary or ttq)
COARSE_FORMATS = {"int2", "int3", "pot"}
BINARY_FORMATS = {"ternary", "ttq", "budget"}
FLOAT_ROWS = 6


def lua_num(v):
    v = float(np.float32(v))
    if v == 0:
        return "0"
    return "%.9g" % v


def lua_tensor(a):
    a = np.asarray(a, dtype=np.float32)
    shape = ", ".join(str(d) for d in a.shape)
    data = ", ".join(lua_num(v) for v in a.ravel())
    return "tensor { shape = {%s}, data = {%s} }" % (shape, data)


class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        # draws of features added later: a seed's earlier models stay the same where they do not fire
        self.extra = np.random.default_rng([seed, 1])
        self.layers = []        # Lua source of each layer
        self.tensors = []       # (name, shape) available as inputs
        self.n = 0

    # ---- helpers ----
    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def name(self, kind):
        self.n += 1
        return "%s%d" % (kind, self.n)

    def weights(self, shape, fan_in):
        r = self.rng
        scale = r.choice([0.3, 1.0, 1.0, 2.0, 5.0]) / np.sqrt(max(fan_in, 1))
        w = r.standard_normal(shape) * scale
        kind = r.integers(8)
        if kind == 0:                       # a few exact zeros
            w[r.random(shape) < 0.3] = 0
        elif kind == 1 and shape[0] > 1:    # an all-zero output channel
            w[r.integers(shape[0])] = 0
        elif kind == 2:                     # one dominant weight
            w.flat[r.integers(w.size)] *= 20
        elif kind == 3:                     # all positive
            w = np.abs(w)
        return w.astype(np.float32)

    def bias(self, n):
        r = self.rng
        if self.chance(0.2):
            return None
        return (r.standard_normal(n) * r.choice([0.0, 0.1, 0.5, 2.0])).astype(np.float32)

    def src(self):
        """An earlier tensor, most often the latest one."""
        if self.chance(0.7) or len(self.tensors) == 1:
            return self.tensors[-1]
        return self.pick(self.tensors)

    def emit(self, kind, shape, fields, inp=None, inputs=None):
        nm = self.name(kind.replace("_", ""))
        parts = ['name = "%s"' % nm]
        if inputs is not None:
            parts.append("inputs = {%s}" % ", ".join('"%s"' % i for i in inputs))
        elif inp is not None:
            parts.append('input = "%s"' % inp)
        parts += fields
        self.layers.append("    %s { %s }," % (kind, ", ".join(parts)))
        self.tensors.append((nm, tuple(shape)))
        return nm, tuple(shape)

    def activation_field(self):
        if self.chance(0.5):
            return []
        return ['activation = "%s"' % self.pick(
            ["none", "relu", "relu", "relu6", "leaky_relu", "sigmoid", "tanh"])]

    # ---- layers; each returns True if it added one ----
    def conv2d(self, t):
        nm, s = t
        if len(s) != 4:
            return False
        r = self.rng
        _, c, h, w = s
        kh, kw = int(r.integers(1, 4)), int(r.integers(1, 4))
        if self.chance(0.3):
            kw = kh
        sh, sw = int(r.integers(1, 3)), int(r.integers(1, 3))
        dil = 2 if self.chance(0.15) else 1
        group = 1
        oc = int(r.integers(1, 7))
        if self.chance(0.25):                       # depthwise
            group = c
            oc = c * int(r.integers(1, 3))
        elif self.chance(0.2):
            divs = [g for g in range(2, c + 1) if c % g == 0]
            if divs:
                group = self.pick(divs)
                oc = group * int(r.integers(1, 3))
        ekh, ekw = dil * (kh - 1) + 1, dil * (kw - 1) + 1
        pk = r.integers(6)
        if pk == 0:
            pads, padf = (0, 0, 0, 0), []
        elif pk == 1:
            p = int(r.integers(0, 2))
            pads, padf = (p, p, p, p), ["pad = %d" % p]
        elif pk == 2:
            ph, pw = int(r.integers(0, 3)), int(r.integers(0, 3))
            pads, padf = (ph, pw, ph, pw), ["pad = {%d, %d}" % (ph, pw)]
        elif pk == 3:
            pads = tuple(int(v) for v in r.integers(0, 3, 4))
            padf = ["pad = {%d, %d, %d, %d}" % pads]
        else:
            mode = self.pick(["same", "same_lower", "valid"])
            padf = ['pad = "%s"' % mode]
            if mode == "valid":
                pads = (0, 0, 0, 0)
            else:
                oh, ow = -(-h // sh), -(-w // sw)
                th = max(0, (oh - 1) * sh + ekh - h)
                tw = max(0, (ow - 1) * sw + ekw - w)
                lo_h, lo_w = (th // 2, tw // 2) if mode == "same" else (th - th // 2, tw - tw // 2)
                pads = (lo_h, lo_w, th - lo_h, tw - lo_w)
        oh = (h + pads[0] + pads[2] - ekh) // sh + 1
        ow = (w + pads[1] + pads[3] - ekw) // sw + 1
        if oh < 1 or ow < 1:
            return False
        wt = self.weights((oc, c // group, kh, kw), c // group * kh * kw)
        f = ["weights = " + lua_tensor(wt)]
        b = self.bias(oc)
        if b is not None:
            f.append("bias = " + lua_tensor(b))
        if sh != 1 or sw != 1:
            f.append("stride = %s" % (str(sh) if sh == sw else "{%d, %d}" % (sh, sw)))
        if dil != 1:
            f.append("dilation = %d" % dil)
        if group != 1:
            f.append("group = %d" % group)
        f += padf + self.activation_field()
        self.emit("conv2d", (1, oc, oh, ow), f, inp=nm)
        if self.chance(0.15):
            self.batchnorm(self.tensors[-1])
        return True

    def dense(self, t):
        nm, s = t
        if len(s) not in (2, 4) or (len(s) == 4 and not self.chance(0.2)):
            return False
        k = s[-1]
        units = int(self.rng.integers(1, 13))
        wt = self.weights((units, k), k)
        f = []
        if self.chance(0.3):
            f.append('layout = "kn"')
            wt_src = wt.T
        else:
            wt_src = wt
        f.insert(0, "weights = " + lua_tensor(wt_src))
        if self.chance(0.5):
            f.append("units = %d" % units)
        b = self.bias(units)
        if b is not None:
            f.append("bias = " + lua_tensor(b))
        f += self.activation_field()
        self.emit("dense", s[:-1] + (units,), f, inp=nm)
        if self.chance(0.1):
            self.batchnorm(self.tensors[-1])
        return True

    def batchnorm(self, t):
        nm, s = t
        r = self.rng
        c = s[1]
        f = ["mean = " + lua_tensor(r.standard_normal(c) * 0.5),
             "var = " + lua_tensor(r.uniform(0.2, 3.0, c))]
        if self.chance(0.7):
            f.append("scale = " + lua_tensor(r.standard_normal(c)))
        if self.chance(0.7):
            f.append("bias = " + lua_tensor(r.standard_normal(c) * 0.3))
        f += self.activation_field()
        self.emit("batchnorm", s, f, inp=nm)
        return True

    def activation(self, t):
        nm, s = t
        r = self.rng
        kind = self.pick(["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "clip"])
        f = []
        if kind == "leaky_relu" and self.chance(0.7):
            f.append("alpha = %s" % lua_num(self.pick([0.01, 0.1, 0.2, 0.5])))
        if kind == "clip":
            lo = self.pick([0.0, 0.0, -1.0, -0.5, 0.25])
            f += ["min = %s" % lua_num(lo), "max = %s" % lua_num(lo + r.choice([0.5, 1.0, 3.0, 6.0]))]
        self.emit(kind, s, f, inp=nm)
        return True

    def pool(self, t):
        nm, s = t
        if len(s) != 4:
            return False
        r = self.rng
        _, c, h, w = s
        kind = self.pick(["maxpool", "avgpool", "global_avgpool"])
        if kind == "global_avgpool":
            self.emit(kind, (1, c, 1, 1), [], inp=nm)
            return True
        k = int(r.integers(1, 4))
        st = self.pick([1, k, 2]) if k > 1 else 1
        dil = 2 if kind == "maxpool" and self.chance(0.15) else 1
        p = int(r.integers(0, k // 2 + 1))
        ceil = self.chance(0.25)
        ek = dil * (k - 1) + 1
        num = h + 2 * p - ek
        if num < 0 or w + 2 * p - ek < 0:
            return False
        def out(n):
            q = n + 2 * p - ek
            o = (-(-q // st) if ceil else q // st) + 1
            if ceil and (o - 1) * st >= n + p:     # ONNX/PyTorch: last window starts inside
                o -= 1
            return o
        oh, ow = out(h), out(w)
        f = ["kernel = %d" % k]
        if st != k:
            f.append("stride = %d" % st)
        if p:
            f.append("pad = %d" % p)
        if dil != 1:
            f.append("dilation = %d" % dil)
        if ceil:
            f.append("ceil_mode = true")
        if kind == "avgpool" and p and self.chance(0.5):
            f.append("count_include_pad = true")
        self.emit(kind, (1, c, oh, ow), f, inp=nm)
        return True

    def flatten(self, t):
        nm, s = t
        if len(s) != 4:
            return False
        self.emit("flatten", (1, int(np.prod(s[1:]))), [], inp=nm)
        return True

    def reshape(self, t):
        nm, s = t
        n = int(np.prod(s))
        if len(s) == 2:             # to [1, C, H, W] with a factorisation of n
            divs = [d for d in range(1, n + 1) if n % d == 0]
            c = self.pick(divs)
            hw = n // c
            hs = [d for d in range(1, hw + 1) if hw % d == 0]
            hh = self.pick(hs)
            shape = (1, c, hh, hw // hh)
            spec = "{0, %d, %d, -1}" % (c, hh) if self.chance(0.5) else "{1, %d, %d, %d}" % shape[1:]
        else:
            shape = (1, n)
            spec = self.pick(["{1, -1}", "{0, -1}", "{1, %d}" % n])
        self.emit("reshape", shape, ["shape = %s" % spec], inp=nm)
        return True

    def same_shape_branch(self, t):
        """A shape-preserving conv (or dense) of t: a sibling to add or concat."""
        nm, s = t
        r = self.rng
        if len(s) == 4:
            c = s[1]
            k = self.pick([1, 3])
            wt = self.weights((c, c, k, k), c * k * k)
            f = ["weights = " + lua_tensor(wt), "pad = %s" % ('"same"' if k == 3 else "0")]
            f += self.activation_field()
            return self.emit("conv2d", s, f, inp=nm)
        k = s[-1]
        if k > 48:      # a [k, k] dense would be most of the model: an activation instead
            return self.emit(self.pick(["relu", "sigmoid", "tanh"]), s, [], inp=nm)
        wt = self.weights((k, k), k)
        return self.emit("dense", s, ["weights = " + lua_tensor(wt)] + self.activation_field(), inp=nm)

    def add(self, t):
        s = t[1]
        same = [u for u in self.tensors if u[1] == s and u[0] != t[0]]
        if len(s) == 4 and self.chance(0.2):       # broadcast [1,C,1,1] onto [1,C,H,W]
            g = self.emit("global_avgpool", (1, s[1], 1, 1), [], inp=self.pick(
                [u for u in self.tensors if len(u[1]) == 4 and u[1][1] == s[1]])[0])
            a, b = (t, g) if self.chance(0.5) else (g, t)
        elif same and self.chance(0.6):
            a, b = t, self.pick(same)
        else:
            a, b = t, self.same_shape_branch(t)
        if self.chance(0.2):
            a, b = b, a
        self.emit("add", s, self.activation_field(), inputs=[a[0], b[0]])
        return True

    def concat(self, t):
        s = t[1]
        axis = 1 if self.chance(0.7) else int(self.rng.integers(1, len(s)))
        ins = [t]
        for u in self.tensors:
            if u[0] != t[0] and len(u[1]) == len(s) and all(
                    u[1][i] == s[i] for i in range(len(s)) if i != axis):
                ins.append(u)
        if len(ins) == 1 or self.chance(0.3):
            ins.append(self.same_shape_branch(t))
        self.rng.shuffle(ins)
        ins = ins[:int(self.rng.integers(2, min(len(ins), 4) + 1))]
        shape = list(s)
        shape[axis] = sum(u[1][axis] for u in ins)
        f = [] if axis == 1 and self.chance(0.5) else ["axis = %d" % axis]
        self.emit("concat", shape, f, inputs=[u[0] for u in ins])
        return True

    # ---- the model ----
    def model(self):
        r = self.rng
        if self.chance(0.25):
            in_shape = (1, int(r.integers(1, 33)))
        else:
            in_shape = (1, int(r.integers(1, 5)), int(r.integers(2, 11)), int(r.integers(2, 11)))
        self.tensors.append(("x", in_shape))
        steps = int(r.integers(1, 8))
        ops = [(self.conv2d, 4), (self.dense, 3), (self.activation, 2), (self.pool, 2),
               (self.add, 2), (self.concat, 1.5), (self.flatten, 0.7), (self.reshape, 0.5),
               (self.batchnorm, 0.3)]
        wsum = sum(w for _, w in ops)
        done = 0
        tries = 0
        while done < steps and tries < 100:
            tries += 1
            x = r.random() * wsum
            for fn, w in ops:
                x -= w
                if x < 0:
                    break
            t = self.src()
            if t[0] == "x" and fn in (self.add, self.concat, self.batchnorm) and self.extra.random() < 0.7:
                continue    # now and then an add or concat reads the model input itself
            if int(np.prod(t[1])) > 600 and fn in (self.concat, self.add):
                continue
            if fn(t):
                done += 1
        last = self.tensors[-1]
        if last[0] == "x":
            self.activation(last)
            last = self.tensors[-1]
        # a final dense or softmax now and then, as a classifier would have
        if self.chance(0.3):
            if len(last[1]) == 4:
                self.flatten(last)
            self.dense(self.tensors[-1])
            last = self.tensors[-1]
        if self.chance(0.15) and len(last[1]) == 2:
            self.emit("softmax", last[1], [], inp=last[0])
            last = self.tensors[-1]
        outputs = [last[0]]
        others = [u[0] for u in self.tensors[1:-1]]
        if others and self.chance(0.15):
            outputs.insert(int(r.integers(2)), self.pick(others))
        return in_shape, outputs

    def live_weights(self, outputs):
        """whether a conv2d or dense layer feeds one of the outputs (a layer
        without an input field reads the layer before it)"""
        src, prev = {}, "x"
        for line in self.layers:
            name = re.search(r'name = "([^"]+)"', line).group(1)
            m = re.search(r'inputs? = (\{[^}]*\}|"[^"]+")', line)
            src[name] = (line.lstrip().startswith(("conv2d", "dense")),
                         re.findall(r'"([^"]+)"', m.group(1)) if m else [prev])
            prev = name
        todo, seen = list(outputs), set()
        while todo:
            n = todo.pop()
            if n in seen or n not in src:
                continue
            seen.add(n)
            if src[n][0]:
                return True
            todo += src[n][1]
        return False

    def options(self, outputs):
        r = self.rng
        o = ["--weights", self.pick(FORMATS), "--act-bits", str(self.pick([4, 8, 8, 16]))]
        if self.chance(0.3):
            o += ["--kernel", "mac"]
        if self.chance(0.3):
            o += ["--clip", self.pick(["percentile", "percentile:99.9", "aciq", "aciq-gauss"])]
        if self.chance(0.2):
            o += ["--bias-correction", self.pick(["on", "off"])]
        weighted = self.live_weights(outputs)
        # the precision search instead of one format (it refuses a model whose
        # outputs depend on no weighted layer)
        if weighted and self.chance(0.06):
            o = o[2:] + ["--budget", "bits=%s" % self.pick(["3", "4.5", "6"]),
                         "--sens-samples", "8", "--probes", "4", "--refine", self.pick(["0", "2"])]
        return o


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    seed, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    g = Gen(seed)
    in_shape, outputs = g.model()
    opts = g.options(outputs)
    r = g.rng
    ncal = int(r.integers(FLOAT_ROWS, 17))
    scale = r.choice([0.1, 1.0, 1.0, 4.0])
    x = r.standard_normal((ncal,) + in_shape[1:]) * scale
    if g.chance(0.3):
        x = np.abs(x)                       # non-negative inputs
    if g.chance(0.2):
        x += r.choice([-2.0, 2.0])          # an offset range
    x = x.astype(np.float32)
    extra = (x[:2] * 2.0).astype(np.float32)     # beyond the calibrated range
    np.save(os.path.join(out, "calib.npy"), x)
    np.save(os.path.join(out, "data.npy"), np.concatenate([x[:FLOAT_ROWS], extra]))
    np.save(os.path.join(out, "labels.npy"), np.zeros(FLOAT_ROWS + 2, dtype=np.int64))
    name = "rnd%d" % seed
    outs = ('output = "%s",' % outputs[0]) if len(outputs) == 1 else \
        "outputs = {%s}," % ", ".join('"%s"' % o for o in outputs)
    src = ["-- random model, seed %d (tools/random_models.py)" % seed,
           "return model {",
           '  name = "%s",' % name,
           "  input = { name = \"x\", shape = {%s} }," % ", ".join(str(d) for d in in_shape),
           "  " + outs,
           "  layers = {"] + g.layers + ["  },", "}", ""]
    with open(os.path.join(out, "model.lua"), "w") as f:
        f.write("\n".join(src))
    with open(os.path.join(out, "options"), "w") as f:
        f.write(" ".join(opts) + "\n")
    fmt = opts[opts.index("--weights") + 1] if "--weights" in opts else "budget"
    bits = opts[opts.index("--act-bits") + 1] if "--act-bits" in opts else "8"
    coarse = 2 if fmt in BINARY_FORMATS else 1 if fmt in COARSE_FORMATS or bits == "4" else 0
    with open(os.path.join(out, "info"), "w") as f:
        f.write("outputs=%d float_rows=%d coarse=%d name=%s\n" % (len(outputs), FLOAT_ROWS, coarse, name))


if __name__ == "__main__":
    main()
