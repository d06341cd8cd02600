-- The MLP of tests/fixtures/mlp.onnx written as a Lua model spec:
-- Flatten -> Linear(784, 32) -> ReLU -> Linear(32, 10).
-- Weights: mlp/*.npy, exported from the ONNX file by tools/make_lua_models.py
-- (dense weights are [units, inputs], as PyTorch's Linear stores them).
--
--   build/shiftc eval examples/models/mlp.lua --calib tests/fixtures/calib.npy \
--       --data tests/fixtures/test_x.npy --labels tests/fixtures/test_y.npy
return model {
  name = "mlp",
  input = { name = "input", shape = {1, 1, 28, 28} },
  layers = {
    flatten {},
    dense { name = "fc1", units = 32, weights = npy "mlp/fc1_w.npy", bias = npy "mlp/fc1_b.npy",
            activation = "relu" },
    dense { name = "logits", units = 10, weights = npy "mlp/fc2_w.npy", bias = npy "mlp/fc2_b.npy" },
  },
}
