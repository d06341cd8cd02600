-- weights whose inputs do not match the previous layer (found by shape inference)
return model {
  input = { shape = {1, 784} },
  layers = {
    dense { name = "fc1", units = 64, weights = tensor { shape = {64, 784}, fill = 0.01 } },
    dense { name = "fc2", units = 10, weights = tensor { shape = {10, 32}, fill = 0.01 } },
  },
}
