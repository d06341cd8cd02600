-- knee.lua -- take the knee of the Pareto frontier instead of the point of
-- least objective within the budget: the point after which spending more
-- cost buys little.  Among the points within the budget, costs and
-- objectives are scaled to [0, 1] and the point farthest below the straight
-- line from the cheapest to the best point is taken (the "Kneedle" rule).
-- With a loose budget this usually saves a good part of the cost for a
-- small loss in Omega.
--
--   shiftc compile model.onnx --calib calib.npy --budget flash=64KiB \
--       --policy examples/policies/knee.lua
return {
    description = "knee of the frontier within the budget",
    choose = function(frontier, limit)
        local pts = {}
        for i, p in ipairs(frontier) do
            if p.cost <= limit then
                pts[#pts + 1] = i
            end
        end
        if #pts < 3 then
            return nil -- nothing to bend: the default point
        end
        local a, b = frontier[pts[1]], frontier[pts[#pts]]
        local dc, dobj = b.cost - a.cost, a.objective - b.objective
        if dc <= 0 or dobj <= 0 then
            return nil
        end
        local best, best_d = nil, 0
        for _, i in ipairs(pts) do
            local p = frontier[i]
            local x = (p.cost - a.cost) / dc          -- 0 .. 1, cheapest to best
            local y = (a.objective - p.objective) / dobj -- 0 .. 1, fraction of the gain
            local d = y - x                           -- above the chord in gain
            if d > best_d then
                best, best_d = i, d
            end
        end
        return best
    end,
}
