-- no layers at all
return model {
  input = { shape = {1, 2} },
  layers = {},
}
