-- expected: undeclared global 'os'
os.execute("touch /tmp/shiftc-policy-pwned")
return {}
