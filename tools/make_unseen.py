#!/usr/bin/python3
"""Write extra small "unseen" Fashion-MNIST models for shiftc tests.

    /usr/bin/python3 tools/make_unseen.py [OUT_DIR]   (default: /tmp/shiftc_unseen)

These cover model shapes and ops that the committed fixtures (tests/fixtures/)
do not: residual Add, GlobalAveragePool, stride/dilation/groups, Clip (ReLU6),
AveragePool, Softmax, Concat, LeakyRelu, ceil-mode MaxPool, Tanh, Sigmoid,
MatMul+Add, and opsets 11 / 13 / 17. Each model is trained briefly (a few
hundred Adam steps); deterministic (fixed seeds). Writes into OUT_DIR:

  resnet.onnx       opset 13
  mobile.onnx       opset 11 (ends with Softmax: output is probabilities)
  concat.onnx       opset 17
  mlp_sigmoid.onnx  opset 13 (MatMul + Add instead of Gemm)
  calib.npy   float32 (200,1,28,28)  training images in [0,1] (seeded pick)
  test_x.npy  float32 (500,1,28,28)  first 500 test images in [0,1]
  test_y.npy  int64   (500,)         their labels
  manifest.txt  one line per model: "<file> <torch float accuracy on test_x>"

All models: input 'input' float32 [1,1,28,28], output 'logits' [1,10],
BatchNormalization kept (not fused), no constant folding.
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no tools/__pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as fc  # noqa: E402

N_CALIB = 200
N_TEST = 500


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.relu2 = nn.ReLU()
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)   # 28x28 -> 14x14
        self.bn3 = nn.BatchNorm2d(16)
        self.relu3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)                     # -> GlobalAveragePool
        self.flat = nn.Flatten()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        x = self.relu2(x + y)
        x = self.relu3(self.bn3(self.down(x)))
        return self.fc(self.flat(self.gap(x)))


class Mobile(nn.Module):
    def __init__(self, softmax=True):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1),        # 28 -> 14
            nn.ReLU6(),                                     # -> Clip(0, 6)
            nn.Conv2d(8, 8, 3, padding=1, groups=8),        # depthwise
            nn.BatchNorm2d(8),
            nn.ReLU6(),
            nn.Conv2d(8, 16, 1),                            # pointwise
            nn.ReLU(),
            nn.AvgPool2d(2),                                # 14 -> 7
            nn.Flatten(),
            nn.Linear(16 * 7 * 7, 10),
        )
        self.softmax = softmax
        self.sm = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.body(x)
        return self.sm(x) if self.softmax else x


class ConcatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(1, 4, 1)                            # 28x28
        self.b2 = nn.Conv2d(1, 4, 3, padding=2, dilation=2)     # 28x28
        self.act = nn.LeakyReLU(0.1)
        # kernel 3 / stride 2 so that ceil_mode actually matters on 28x28:
        # floor mode would give 13x13, ceil mode gives 14x14 (last window is
        # partially outside the input).
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(8 * 14 * 14, 32)
        self.tanh = nn.Tanh()
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.cat([self.b1(x), self.b2(x)], dim=1)
        x = self.pool(self.act(x))
        return self.fc2(self.tanh(self.fc1(self.flat(x))))


class MatMulLinear(nn.Module):
    """y = x @ W + b, exported as MatMul + Add (not Gemm). W is (in, out)."""
    def __init__(self, n_in, n_out):
        super().__init__()
        ref = nn.Linear(n_in, n_out)          # reuse torch's default init
        self.weight = nn.Parameter(ref.weight.detach().t().contiguous())
        self.bias = nn.Parameter(ref.bias.detach().clone())

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


class MlpSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.l1 = MatMulLinear(784, 24)
        self.act = nn.Sigmoid()
        self.l2 = MatMulLinear(24, 10)

    def forward(self, x):
        return self.l2(self.act(self.l1(self.flat(x))))


# name, constructor, opset, training steps, seed
MODELS = [
    ("resnet", ResNet, 13, 1500, 11),
    ("mobile", Mobile, 11, 800, 12),
    ("concat", ConcatNet, 17, 800, 13),
    ("mlp_sigmoid", MlpSigmoid, 13, 800, 14),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/shiftc_unseen"
    os.makedirs(out, exist_ok=True)
    fc.setup_torch()
    t0 = time.time()
    train_x, train_y, test_x, test_y = fc.load_fmnist()
    rng = np.random.RandomState(4321)
    calib = np.ascontiguousarray(train_x[rng.choice(train_x.shape[0], N_CALIB, replace=False)])
    sub_x = np.ascontiguousarray(test_x[:N_TEST])
    sub_y = np.ascontiguousarray(test_y[:N_TEST])
    np.save(os.path.join(out, "calib.npy"), calib.astype(np.float32))
    np.save(os.path.join(out, "test_x.npy"), sub_x.astype(np.float32))
    np.save(os.path.join(out, "test_y.npy"), sub_y.astype(np.int64))
    print("data loaded + saved in %.1fs" % (time.time() - t0))

    lines = []
    for name, ctor, opset, steps, seed in MODELS:
        t1 = time.time()
        fc.seed_all(seed)
        model = ctor()
        if isinstance(model, Mobile):
            # train on logits (CrossEntropy), export with the final Softmax
            model.softmax = False
            fc.train(model, train_x, train_y, seed=seed, steps=steps, lr=3e-3)
            model.softmax = True
        else:
            fc.train(model, train_x, train_y, seed=seed, steps=steps, lr=3e-3)
        acc = fc.accuracy(model, sub_x, sub_y)
        fname = name + ".onnx"
        m = fc.export(model, os.path.join(out, fname), opset=opset)
        lines.append("%s %.4f" % (fname, acc))
        print("%-16s opset %d  %d steps  %.1fs  acc test[:%d]=%.4f  ops=%s"
              % (fname, opset, steps, time.time() - t1, N_TEST, acc, fc.op_types(m)))
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("total %.1fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
