-- a tensor too large to be a weight
return model {
  input = { shape = {1, 2} },
  layers = {
    dense { weights = tensor { shape = {100000, 100000}, fill = 0 } },
  },
}
