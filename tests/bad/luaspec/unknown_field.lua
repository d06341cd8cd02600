-- a typo in a field name
return model {
  input = { shape = {1, 1, 8, 8} },
  layers = {
    conv2d { name = "c1", weights = tensor { shape = {2, 1, 3, 3}, fill = 0.1 },
             strid = 2 },
  },
}
