-- the second convolution expects 3 input channels, the first makes 4
return model {
  input = { shape = {1, 1, 8, 8} },
  layers = {
    conv2d { name = "c1", weights = tensor { shape = {4, 1, 3, 3}, fill = 0.1 }, pad = 1 },
    conv2d { name = "c2",
             weights = tensor { shape = {2, 3, 3, 3}, fill = 0.1 } },
  },
}
