-- expected: undeclared global 'dofile'
return dofile("/etc/passwd")
