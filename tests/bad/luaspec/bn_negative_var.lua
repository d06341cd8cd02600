-- a negative variance
return model {
  input = { shape = {1, 2, 4, 4} },
  layers = {
    batchnorm { mean = {0, 0}, var = {1, -1} },
  },
}
