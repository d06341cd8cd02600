-- a group count that does not divide the filters
return model {
  input = { shape = {1, 3, 4, 4} },
  layers = {
    conv2d { weights = tensor { shape = {8, 1, 3, 3}, fill = 0.5 }, group = 3 },
  },
}
