-- pads are p, {h, w} or {top, left, bottom, right}
return model {
  input = { shape = {1, 1, 4, 4} },
  layers = {
    conv2d { weights = tensor { shape = {1, 1, 3, 3}, fill = 1 },
             pad = {1, 2, 3} },
  },
}
