-- a weight file that does not exist
return model {
  input = { shape = {1, 4} },
  layers = {
    dense { units = 2, weights = npy "data/no_such_file.npy" },
  },
}
