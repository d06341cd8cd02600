-- a NaN among inline weights
return model {
  input = { shape = {1, 4} },
  layers = {
    dense { name = "fc", weights = {{1, 2, 3, 4}, {5, 6, 0/0, 8}} },
  },
}
