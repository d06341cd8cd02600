-- protect_top.lua -- keep the most sensitive layers safe: the top
-- --policy-arg top=N layers by mean Hessian trace (trace / params, default
-- N = 1) are held at int8 weights; the rest are searched.  Shows the
-- function form of `layers`, which runs once the model's layers are known.
--
--   shiftc eval model.onnx ... --budget bits=3 --policy examples/policies/protect_top.lua \
--       --policy-arg top=2
local top = math.tointeger(tonumber(params.top or "1"))
if not top or top < 0 then
    error("--policy-arg top= must be a non-negative integer")
end

return {
    description = "the " .. top .. " most sensitive layers at int8",
    layers = function(layers)
        local order = {}
        for i, l in ipairs(layers) do
            order[i] = l
        end
        table.sort(order, function(a, b)
            local sa, sb = a.trace / math.max(a.params, 1), b.trace / math.max(b.params, 1)
            if sa ~= sb then
                return sa > sb
            end
            return a.index < b.index
        end)
        local rules = {}
        for k = 1, math.min(top, #order) do
            rules[order[k].index] = { weights = "int8" }
        end
        return rules
    end,
}
