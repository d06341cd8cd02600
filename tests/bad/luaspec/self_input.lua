-- a layer reading itself
return model {
  input = { name = "x", shape = {1, 4} },
  layers = {
    relu { name = "a", input = "a" },
  },
}
