-- expected: __gc metamethods are not allowed (finalizers run with the hook off)
setmetatable({}, { __gc = function() while true do end end })
return {}
