-- a Lua syntax error: the message names the line
return model {
  name = "x" "y",
}
