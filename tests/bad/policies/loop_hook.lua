-- expected: loop_hook.lua:5: instruction limit of ... exceeded
return {
    candidate = function(layer, cand)
        local n = 0
        while true do n = n + 1 end
    end,
}
