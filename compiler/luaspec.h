/*
 * The Lua model spec: `shiftc compile model.lua` where the file describes
 * the layers and points at their weights (.npy files, or inline tables),
 * lowered into the same IR graph the ONNX frontend produces.  The file runs
 * in a sandbox (lua_sandbox.h); docs/luaspec.md is the user's guide,
 * examples/models/ the examples.
 */
#ifndef SHIFTC_LUASPEC_H
#define SHIFTC_LUASPEC_H

#include <stddef.h>

#include "ir.h"

/* Reads the model; on error returns NULL with a message that names the file
 * and the line or layer. */
Graph *luaspec_load(const char *path, char *err, size_t errlen);

#endif
