-- expected: syntax.lua:4: ... '}' expected
return {
    layers = { first = { weights = "int8" } },
    tie = { {"a", "b"}
