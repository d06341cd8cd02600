-- model names become C identifiers
return model {
  name = "my-net",
  input = { shape = {1, 2} },
  layers = { relu {} },
}
