-- an unanchored .- on a 100 kB string: quadratic backtracking in C, out of the count hook's reach
return { des = string.match(string.rep("a",0100100 ), ".-,. while tru") }
