-- keep_ends.lua -- the classic rule for low-bit networks: the first layer
-- (it sees the raw input) and the last (it produces the logits) keep int8
-- weights; every other layer is left to the search, which spends the rest
-- of the budget where the Hessian says it matters.
--
--   shiftc compile model.onnx --calib calib.npy --budget bits=4 \
--       --policy examples/policies/keep_ends.lua
--
-- --policy-arg bits=6 keeps the ends at int6 instead.
local fmt = "int" .. (params.bits or "8")
return {
    description = "first and last layer at " .. fmt .. ", the rest searched",
    layers = {
        first = { weights = fmt },
        last = { weights = fmt },
    },
}
