/*
 * A Lua 5.4 state for running users' files safely, like Redis scripting:
 * only the base library without dofile/loadfile/load/require/collectgarbage,
 * and string (without dump), table, math, utf8, coroutine -- no io, os,
 * package or debug; reading or assigning an undeclared global is an error
 * ("no new globals"); a count hook stops a script after a budget of VM
 * instructions; an allocator limit stops runaway memory.  Chunks are loaded
 * as text only, named "@PATH", so every error reads "PATH:LINE: message",
 * followed by a traceback.  math.random is seeded with 0, so scripts are
 * deterministic.  print() writes to stderr.
 *
 * Used by the Lua model spec (luaspec.c) and the policies (policy.c).
 */
#ifndef SHIFTC_LUA_SANDBOX_H
#define SHIFTC_LUA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* The fuzz build (Makefile, `make fuzz`) compiles in smaller limits, so that
 * an input that runs away costs milliseconds rather than seconds. */
#ifndef SANDBOX_MEM_LIMIT
#define SANDBOX_MEM_LIMIT (256u << 20)   /* bytes */
#endif
#ifndef SANDBOX_INSTR_LIMIT
#define SANDBOX_INSTR_LIMIT 200000000LL  /* VM instructions per call */
#endif

typedef struct Sandbox Sandbox;

/* A fresh state; NULL only when Lua cannot allocate. */
Sandbox *sandbox_new(size_t mem_limit, int64_t instr_limit);
lua_State *sandbox_state(Sandbox *sb);

/* Globals the host provides: sets _G[name] to the value on top of the
 * stack (popped).  Only the host can add globals. */
void sandbox_set_global(Sandbox *sb, const char *name);

/* Loads PATH (text only) and runs it with nresults results left on the
 * stack (LUA_MULTRET allowed).  On error returns -1 with "PATH:LINE: msg"
 * and a traceback in err (or the read error, naming the file). */
int sandbox_run_file(Sandbox *sb, const char *path, int nresults, char *err, size_t errlen);

/* Calls the function below nargs arguments on the stack, like lua_pcall,
 * with a fresh instruction budget and a traceback on error. */
int sandbox_call(Sandbox *sb, int nargs, int nresults, char *err, size_t errlen);

void sandbox_free(Sandbox *sb);

#endif
