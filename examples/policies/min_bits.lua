-- min_bits.lua -- a floor on precision: no layer goes below 4-bit weights
-- (storage bits per code, so int4, pot, nhot2/3 and apot qualify; ternary,
-- ttq, int2, int3 do not) nor below 8-bit activations.  Useful when the
-- budget would otherwise push fragile layers to ternary.
--
--   shiftc compile model.onnx --calib calib.npy --budget flash=24KiB \
--       --policy examples/policies/min_bits.lua --policy-arg weight_bits=5
local wbits = tonumber(params.weight_bits or "4")
local abits = tonumber(params.act_bits or "8")
if not wbits or not abits then
    error("--policy-arg weight_bits= and act_bits= must be numbers")
end

return {
    description = string.format("at least %d-bit weights and %d-bit activations", wbits, abits),
    candidate = function(layer, cand)
        return cand.weight_bits >= wbits and cand.act_bits >= abits
    end,
}
