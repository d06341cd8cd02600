-- expected: must return a table
return 42
