-- the output names a layer that does not exist
return model {
  input = { shape = {1, 2} },
  layers = { relu { name = "r" } },
  output = "probs",
}
