-- model fields are checked like layer fields
return model {
  input = { shape = {1, 2} },
  layer = { relu {} },
}
