-- builds a model but forgets to return it
local m = model {
  input = { shape = {1, 4} },
  layers = { relu {} },
}
