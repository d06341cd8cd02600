-- a string where a number belongs
return model {
  input = { shape = {1, 1, 4, 4} },
  layers = {
    maxpool { kernel = 2, stride = "two" },
  },
}
