-- expected: instruction limit exceeded: a looping message handler is stopped too
while true do
    xpcall(function() error("x") end, function() while true do end end)
end
