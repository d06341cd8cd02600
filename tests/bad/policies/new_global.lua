-- expected: assignment to undeclared global 'helper'
function helper() return 1 end
return {}
