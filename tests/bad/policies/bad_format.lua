-- expected: unknown weight format 'int9'
return { layers = { first = { weights = "int9" } } }
