-- expected: loop_top.lua:3: instruction limit of ... exceeded
local n = 0
while true do n = n + 1 end
