local function block(name, from)
  return {
    conv2d { name = name .. "_a", input = from, weights = tensor { shape = {2, 2, 1, 1}, data = {1, 0, 0, 1} },
             activation = "leaky_relu" },
    conv2d { name = name .. "_b", weights = {{{{0.5}}, {{-0.5}}}, {{{0.25}}, {{1}}}}, group = 1, dilation = 1 },
  }
end
return model {
  name = "branches",
  inputs = { { name = "x", shape = {1, 2, 4, 4} }, { name = "z", shape = {1, 2, 4, 4} } },
  layers = {
    block("p", "x"),
    add { name = "sum", inputs = {"p_b", "z"}, activation = "tanh" },
    concat { name = "cat", inputs = {"sum", "x"}, axis = 1 },
    sigmoid { name = "s" },
    clip { min = -0.5, max = 0.5 },
    reshape { shape = {1, -1} },
    dense { name = "out", weights = tensor { shape = {64, 3}, fill = 0.01 }, layout = "kn" },
    leaky_relu { alpha = 0.2 },
  },
  outputs = { "out", "s" },
}
