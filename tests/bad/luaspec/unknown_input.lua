-- an add that reads a name nothing defines
return model {
  input = { name = "x", shape = {1, 4} },
  layers = {
    dense { name = "a", weights = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}} },
    relu { name = "r" },
    add { name = "sum", inputs = {"r", "skip"} },
  },
}
