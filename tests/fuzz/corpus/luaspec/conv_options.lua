return model {
  input = { shape = {1, 2, 5, 5} },
  layers = {
    conv2d { weights = tensor { shape = {4, 1, 3, 3}, fill = 0.1 }, group = 2, filters = 4, kernel = {3, 3},
             stride = {2, 1}, dilation = {1, 2}, pad = {1, 2, 1, 2}, activation = "sigmoid" },
    conv2d { weights = tensor { shape = {2, 4, 1, 1}, fill = -0.1 }, pad = "same" },
    relu {},
    maxpool { kernel = {2, 2}, stride = {1, 1}, pad = {0, 0, 1, 1}, dilation = 1, ceil_mode = false },
    flatten { axis = 1 },
  },
  output = "flatten_5",
}
