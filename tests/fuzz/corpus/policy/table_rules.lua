return {
  description = "every form of rule",
  budget = "flash=24KiB",
  layers = {
    ["first"] = { weights = "int8", act_bits = 8 },
    ["last"] = { weights = {"int4", "int8"}, act_bits = {4, 8}, kernel = "mac" },
    [2] = { weights = "ternary" },
    [-1] = { kernel = {"unrolled", "mac"} },
    ["op:Conv"] = { weights = {"pot", "apot", "nhot2"} },
    ["*"] = { act_bits = 16 },
  },
  tie = { {"conv1", "conv2"}, {1, -1} },
}
