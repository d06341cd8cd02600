-- expected: objective_nan.lua:3: the objective hook must return a finite number
return {
    objective = function(layer, cand) return 0 / 0 end,
}
