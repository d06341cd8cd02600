-- an activation that does not exist
return model {
  input = { shape = {1, 2} },
  layers = {
    dense { weights = {{1, 2}, {3, 4}}, activation = "gelu" },
  },
}
