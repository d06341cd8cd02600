-- dense layouts are "nk" and "kn"
return model {
  input = { shape = {1, 2} },
  layers = {
    dense { weights = {{1, 2}, {3, 4}}, layout = "io" },
  },
}
