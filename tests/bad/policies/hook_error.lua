-- expected: hook_error.lua:5: attempt to index a nil value
return {
    objective = function(layer, cand)
        local t = nil
        return t.omega
    end,
}
