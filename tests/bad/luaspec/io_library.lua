-- the sandbox has no io, os or require
local f = io.open("/etc/passwd")
return f
