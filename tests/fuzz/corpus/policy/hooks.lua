local n = tonumber(params.top or "2") or 2
return {
  layers = function(layers)
    local rules = {}
    for i, l in ipairs(layers) do
      if i <= n then rules[l.name] = { weights = "int8" } end
    end
    return rules
  end,
  candidate = function(layer, cand) return cand.weight_bits >= 4 and cand.act_bits == 8 end,
  objective = function(layer, cand) return cand.omega * (1 + layer.index) / math.max(1, layer.params) end,
  choose = function(frontier, limit)
    for i = #frontier, 1, -1 do
      if frontier[i].cost <= limit then return i end
    end
  end,
}
