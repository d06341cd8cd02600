-- expected: unknown field 'candidates' (a typo of 'candidate')
return { candidates = function(layer, cand) return true end }
