-- expected: undeclared global 'load'
return load("return {}")()
