-- reverse.lua -- HAWQ-V2's "reverse" baseline: the search runs as usual but
-- with the layers' sensitivity ranking turned upside down, so the layer the
-- Hessian finds most sensitive is treated as the least sensitive and vice
-- versa.  If the ranking carries information, this should do clearly worse
-- than the default search at the same budget (bench/ compares the two).
--
-- A layer's sensitivity is s = trace / params (the mean Hessian diagonal);
-- omega_w = s * |Q(W) - W|^2, so omega_w / s is the raw quantization error.
-- The layer with the k-th largest s is charged that error times the s of the
-- layer with the k-th smallest s.  The activation part (omega_a) is kept.
--
--   shiftc eval model.onnx ... --budget bits=4 --policy examples/policies/reverse.lua
local function sens(l)
    return l.trace / math.max(l.params, 1)
end

local mirrored -- mirrored[i] = sensitivity at the mirrored rank of layer i

local function mirror()
    if mirrored then
        return mirrored
    end
    local order = {}
    for i = 1, #layers do
        order[i] = i
    end
    table.sort(order, function(a, b)
        local sa, sb = sens(layers[a]), sens(layers[b])
        if sa ~= sb then
            return sa > sb
        end
        return a < b -- ties broken by position: deterministic
    end)
    mirrored = {}
    local n = #order
    for k = 1, n do
        mirrored[order[k]] = sens(layers[order[n + 1 - k]])
    end
    return mirrored
end

return {
    description = "HAWQ-V2 reverse baseline: sensitivity ranking inverted",
    objective = function(layer, cand)
        local s = sens(layer)
        if s <= 0 then
            return cand.omega -- no curvature measured: nothing to invert
        end
        return cand.omega_w / s * mirror()[layer.index] + cand.omega_a
    end,
}
