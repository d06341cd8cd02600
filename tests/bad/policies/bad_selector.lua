-- expected: layers["conv99"]: no weighted layer is named 'conv99'
return { layers = { conv99 = { weights = "int8" } } }
