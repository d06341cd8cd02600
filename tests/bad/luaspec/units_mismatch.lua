-- weights of the wrong shape for the declared units
return model {
  input = { shape = {1, 784} },
  layers = {
    dense { name = "fc1", units = 64, weights = tensor { shape = {64, 784}, fill = 0.01 } },
    relu {},
    dense { name = "fc2", units = 10, weights = tensor { shape = {64, 784}, fill = 0.01 } },
  },
}
