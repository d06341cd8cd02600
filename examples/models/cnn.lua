-- The CNN of tests/fixtures/cnn.onnx written as a Lua model spec:
-- two blocks of Conv 3x3 (pad 1) -> BatchNorm -> ReLU -> MaxPool 2, then
-- Flatten -> Linear(784, 10).  Weights: cnn/*.npy, exported from the ONNX
-- file by tools/make_lua_models.py.
--
-- A Lua function builds each block: the model file is a program, and the
-- layer list may contain lists of layers (they are flattened in order).

local function block(name, channels)
  local dir = "cnn/"
  return {
    conv2d { name = name, filters = channels, kernel = 3, pad = 1,
             weights = npy(dir .. name .. "_w.npy"), bias = npy(dir .. name .. "_b.npy") },
    batchnorm { name = "bn" .. name:sub(-1), epsilon = 1e-5,
                scale = npy(dir .. "bn" .. name:sub(-1) .. "_scale.npy"),
                bias  = npy(dir .. "bn" .. name:sub(-1) .. "_bias.npy"),
                mean  = npy(dir .. "bn" .. name:sub(-1) .. "_mean.npy"),
                var   = npy(dir .. "bn" .. name:sub(-1) .. "_var.npy"),
                activation = "relu" },
    maxpool { kernel = 2 },           -- stride defaults to the kernel
  }
end

return model {
  name = "cnn",
  input = { name = "input", shape = {1, 1, 28, 28} },
  layers = {
    block("conv1", 8),                -- [1, 8, 14, 14]
    block("conv2", 16),               -- [1, 16, 7, 7]
    flatten {},
    dense { name = "logits", units = 10, weights = npy "cnn/fc_w.npy", bias = npy "cnn/fc_b.npy" },
  },
}
