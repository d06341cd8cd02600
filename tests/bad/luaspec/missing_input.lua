-- no model input
return model {
  layers = { relu {} },
}
