-- expected: leaves layer ... with no allowed candidate
return { layers = { ["*"] = { weights = "int8", act_bits = 3 } } }
