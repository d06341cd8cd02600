-- dense right after a convolution maps only the last (width) dimension
return model {
  input = { shape = {1, 1, 4, 4} },
  layers = {
    conv2d { weights = tensor { shape = {2, 1, 3, 3}, fill = 0.1 }, pad = 1 },
    dense { weights = tensor { shape = {3, 32}, fill = 0.1 } },
  },
}
