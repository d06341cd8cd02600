#!/usr/bin/python3
"""Regenerate tests/fixtures/ for shiftc.

    /usr/bin/python3 tools/make_fixtures.py [OUT_DIR] [--n-test N]
    (defaults: OUT_DIR = tests/fixtures, N = 600)

Deterministic (fixed seeds, deterministic torch algorithms, 2 threads).
Trains two small Fashion-MNIST models and writes:
  mlp.onnx, cnn.onnx                   opset 13, batch 1, BatchNormalization kept
  calib.npy   float32 (200,1,28,28)    training images (seeded random pick), in [0,1]
  test_x.npy  float32 (600,1,28,28)    first 600 test images, in [0,1]
  test_y.npy  int64   (600,)           their labels
  mlp_ref_logits.npy, cnn_ref_logits.npy  float32 (20,10): torch logits on test_x[:20]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no tools/__pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as fc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_CALIB = 200
N_TEST = 600
N_REF = 20


def make_mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def make_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


def main():
    ap = argparse.ArgumentParser(description="regenerate shiftc test fixtures")
    ap.add_argument("out", nargs="?", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--n-test", type=int, default=N_TEST,
                    help="number of test images in test_x/test_y (default %(default)s)")
    args = ap.parse_args()
    out = args.out
    n_test = args.n_test
    os.makedirs(out, exist_ok=True)
    fc.setup_torch()
    t0 = time.time()
    train_x, train_y, test_x, test_y = fc.load_fmnist()

    rng = np.random.RandomState(1234)
    calib = np.ascontiguousarray(train_x[rng.choice(train_x.shape[0], N_CALIB, replace=False)])
    sub_x = np.ascontiguousarray(test_x[:n_test])
    sub_y = np.ascontiguousarray(test_y[:n_test])
    np.save(os.path.join(out, "calib.npy"), calib.astype(np.float32))
    np.save(os.path.join(out, "test_x.npy"), sub_x.astype(np.float32))
    np.save(os.path.join(out, "test_y.npy"), sub_y.astype(np.int64))
    print("data loaded + saved in %.1fs" % (time.time() - t0))

    for name, ctor, epochs, seed in (("mlp", make_mlp, 2, 1), ("cnn", make_cnn, 2, 2)):
        t1 = time.time()
        fc.seed_all(seed)
        model = ctor()
        fc.train(model, train_x, train_y, seed=seed, epochs=epochs)
        t_train = time.time() - t1
        acc_sub = fc.accuracy(model, sub_x, sub_y)
        acc_full = fc.accuracy(model, test_x, test_y)
        ref = fc.predict(model, sub_x[:N_REF]).astype(np.float32)
        np.save(os.path.join(out, "%s_ref_logits.npy" % name), ref)
        m = fc.export(model, os.path.join(out, "%s.onnx" % name), opset=13)
        ops = fc.op_types(m)
        if name == "cnn":
            assert ops.count("BatchNormalization") == 2, ops
        print("%s: train %.1fs (%d epochs)  acc test[:%d]=%.4f  acc full test=%.4f  ops=%s"
              % (name, t_train, epochs, n_test, acc_sub, acc_full, ops))
    print("total %.1fs" % (time.time() - t0))


if __name__ == "__main__":
    main()
