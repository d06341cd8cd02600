-- expected: instruction limit exceeded even though every error is caught
while true do
    pcall(function() while true do end end)
end
