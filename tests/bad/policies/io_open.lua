-- expected: undeclared global 'io'
local f = io.open("/etc/passwd")
return { description = f:read("a") }
