-- add needs two inputs
return model {
  input = { name = "x", shape = {1, 2} },
  layers = {
    relu { name = "r" },
    add { inputs = {"r"} },
  },
}
