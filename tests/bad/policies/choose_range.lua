-- expected: choose_range.lua:3: the choose hook returned 100000
return {
    choose = function(frontier, limit) return 100000 end,
}
