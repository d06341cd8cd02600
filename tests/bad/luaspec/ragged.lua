-- a ragged nested list
return model {
  input = { shape = {1, 4} },
  layers = {
    dense { weights = {{1, 2, 3, 4}, {5, 6, 7}} },
  },
}
