-- a script that allocates without bound is stopped by the memory limit
local t = {}
local s = string.rep("x", 1 << 20)
for i = 1, 100000 do t[i] = s .. i end
