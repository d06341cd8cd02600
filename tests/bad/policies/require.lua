-- expected: undeclared global 'require'
local os = require("os")
return {}
