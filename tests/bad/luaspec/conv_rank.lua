-- convolution weights must be 4-D
return model {
  input = { shape = {1, 1, 4, 4} },
  layers = {
    conv2d { weights = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}} },
  },
}
