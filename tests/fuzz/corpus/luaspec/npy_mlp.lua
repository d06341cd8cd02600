return model {
  name = "npy_mlp",
  input = { shape = {1, 4} },
  layers = {
    dense { name = "fc", units = 2, weights = npy "w.npy", bias = npy "b.npy", activation = "relu" },
    softmax {},
  },
}
