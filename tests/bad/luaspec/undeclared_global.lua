-- a misspelt constructor is an undeclared global (the sandbox forbids them)
return model {
  input = { shape = {1, 4} },
  layers = {
    Dense { units = 2, weights = {{1, 2, 3, 4}, {5, 6, 7, 8}} },
  },
}
