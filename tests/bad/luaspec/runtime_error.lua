-- error() in the model file
local ok = false
if not ok then error("weights are missing") end
