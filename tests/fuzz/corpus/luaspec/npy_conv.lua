return model {
  input = { name = "image", shape = {1, 1, 6, 6} },
  layers = {
    conv2d { name = "c", weights = npy "k.npy", bias = npy "b.npy", pad = 1, stride = 1 },
    batchnorm { mean = {0, 0.5}, var = {1, 2}, scale = {1, 1}, bias = {0, 0.1}, activation = "relu6" },
    maxpool { kernel = 2 },
    avgpool { kernel = {3, 3}, stride = 1, pad = 1, ceil_mode = true, count_include_pad = true },
    global_avgpool {},
    flatten {},
    dense { weights = tensor { shape = {3, 2}, fill = 0.25 }, layout = "nk" },
  },
}
