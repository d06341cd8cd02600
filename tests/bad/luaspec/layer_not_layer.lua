-- a string in the layer list
return model {
  input = { shape = {1, 2} },
  layers = { relu {}, "softmax" },
}
