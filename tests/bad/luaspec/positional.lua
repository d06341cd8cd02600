-- fields must be named
return model {
  input = { shape = {1, 2} },
  layers = {
    dense { 2, weights = {{1, 2}, {3, 4}} },
  },
}
