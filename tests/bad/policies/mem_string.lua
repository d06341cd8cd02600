-- expected: memory limit of ... bytes exceeded
local s = string.rep("x", 1 << 30)
return { description = s }
