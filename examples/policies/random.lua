-- random.lua -- the random-assignment baseline: every (layer, candidate)
-- gets a random objective, so the assignment of least objective within
-- the budget is a random feasible one, blind to sensitivity.  Different
-- seeds give different draws; the same seed always the same one.
--
--   shiftc eval model.onnx ... --budget bits=4 --policy examples/policies/random.lua \
--       --policy-arg seed=7
local seed = tonumber(params.seed or "1")
if not seed then
    error("--policy-arg seed= must be a number, got '" .. params.seed .. "'")
end
math.randomseed(seed)

local draw = {} -- draw["layer:candidate"]: one number per pair, drawn once

return {
    description = "random assignment, seed " .. seed,
    objective = function(layer, cand)
        local key = layer.index .. ":" .. cand.index
        if draw[key] == nil then
            draw[key] = math.random()
        end
        return draw[key]
    end,
}
