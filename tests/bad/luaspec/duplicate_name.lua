-- two layers with the same name
return model {
  input = { shape = {1, 4} },
  layers = {
    dense { name = "fc", weights = {{1, 2, 3, 4}, {5, 6, 7, 8}} },
    dense { name = "fc", weights = {{1, 2}, {3, 4}} },
  },
}
