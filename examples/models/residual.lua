-- A small residual network written only in Lua, every weight inline: no
-- files besides this one.  Weights come from a seeded generator in Lua, so
-- the model is the same on every run.  (Untrained: it shows the format and
-- serves the bit-exactness test, not accuracy.)
--
--   input [1,1,28,28] -> stem conv 3x3/2 + relu [1,4,14,14]
--     -> conv + relu -> conv -> add(stem) + relu      (the residual block)
--     -> concat(res, stem) [1,8,14,14] -> global average -> flatten -> dense 10

local seed = 12345
local function rand()                 -- uniform in [-1, 1)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 1073741824 - 1
end

-- A nested list of the given shape, values uniform in [-scale, scale).
local function random(shape, scale)
  local function build(d)
    local t = {}
    for i = 1, shape[d] do
      t[i] = d == #shape and rand() * scale or build(d + 1)
    end
    return t
  end
  return build(1)
end

return model {
  name = "residual",
  input = { name = "image", shape = {1, 1, 28, 28} },
  layers = {
    conv2d { name = "stem", weights = random({4, 1, 3, 3}, 0.6), bias = {0.1, 0.0, -0.1, 0.05},
             stride = 2, pad = 1, activation = "relu" },
    conv2d { name = "a", weights = random({4, 4, 3, 3}, 0.3), pad = {1, 1}, activation = "relu" },
    conv2d { name = "b", weights = random({4, 4, 3, 3}, 0.3), bias = tensor { shape = {4}, fill = 0.02 },
             pad = "same" },
    add    { name = "res", inputs = {"b", "stem"}, activation = "relu" },
    concat { name = "both", inputs = {"res", "stem"}, axis = 1 },
    global_avgpool {},
    flatten {},
    dense  { name = "logits", units = 10, weights = random({10, 8}, 1.0),
             bias = tensor { shape = {10}, data = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} } },
  },
}
