/*
 * The Lua sandbox (lua_sandbox.h), after Redis scripting: a limited
 * allocator, a chosen set of libraries, no new globals, a count hook.
 *
 * Memory: every allocation goes through sb_alloc, which refuses to grow the
 * state beyond its limit; Lua turns the refusal into a memory error that
 * the script cannot do anything about but fail.
 *
 * Time: a count hook fires every SB_HOOK_STEP VM instructions and adds them
 * to the call's count; past the limit it raises "instruction limit of N
 * exceeded", and from then on fires at every instruction and raises again,
 * so a script that catches the error with pcall (in a loop, in a coroutine,
 * in a message handler) is stopped by the next instruction it runs.  Every
 * sandbox_call starts a fresh count.
 */
#include "lua_sandbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#define SB_HOOK_STEP 1000        /* instructions between two hook calls */
#define SB_HANDLER_SLACK (1u << 20) /* extra bytes the message handler may use */

struct Sandbox {
    lua_State *L;
    size_t used;          /* bytes allocated by the state */
    size_t limit;         /* refuse allocations beyond it */
    size_t slack;         /* added to limit while the message handler runs */
    int64_t instr_limit;  /* VM instructions per call */
    int64_t count;        /* instructions of the current call (multiple of the hook step) */
    int exceeded;         /* the current call ran past instr_limit */
    int mem_exceeded;     /* an allocation was refused in the current call */
};

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    Sandbox *sb = ud;
    if (!ptr)
        osize = 0; /* osize is then the type of the object */
    if (nsize == 0) {
        free(ptr);
        sb->used -= osize;
        return NULL;
    }
    if (nsize > osize && sb->used + (nsize - osize) > sb->limit + sb->slack) {
        sb->mem_exceeded = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    sb->used = sb->used - osize + nsize;
    return p;
}

static Sandbox *sb_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    Sandbox *sb = sb_of(L);
    if (!sb->exceeded) {
        sb->count += lua_gethookcount(L);
        if (sb->count <= sb->instr_limit)
            return;
        sb->exceeded = 1;
    }
    /* from now on, every instruction of every thread raises */
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    lua_Debug here;
    if (lua_getstack(L, 0, &here) && lua_getinfo(L, "Sl", &here) && here.currentline > 0)
        lua_pushfstring(L, "%s:%d: ", here.short_src, here.currentline);
    else
        lua_pushliteral(L, "");
    lua_pushfstring(L, "instruction limit of %I exceeded (runaway loop?)", (lua_Integer)sb->instr_limit);
    lua_concat(L, 2);
    lua_error(L);
}

/* print(...) on stderr, so a script's output never mixes with the
 * compiler's results on stdout. */
static int sb_print(lua_State *L)
{
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', stderr);
        fwrite(s, 1, len, stderr);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* math.randomseed(x): a seed is required (without one Lua 5.4 seeds from
 * the clock, and results would change run to run). */
static int sb_randomseed(lua_State *L)
{
    luaL_checknumber(L, 1);
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 0);
    return 0;
}

/* xpcall(f, h, ...): pcall, then h(message) outside the error.  Lua calls
 * a real message handler with hooks off when the error comes from the count
 * hook, so a looping handler would never be stopped; here the handler runs
 * as ordinary code, under the hook. */
static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1); /* f */
    for (int i = 3; i <= n; i++)
        lua_pushvalue(L, i);
    int base = n + 1;
    if (lua_pcall(L, n >= 2 ? n - 2 : 0, LUA_MULTRET, 0) == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, base);
        return lua_gettop(L) - base + 1;
    }
    lua_pushvalue(L, 2); /* h */
    lua_insert(L, -2);
    lua_pcall(L, 1, 1, 0); /* h's own error becomes the result */
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* setmetatable refuses __gc: finalizers run with hooks off, so a looping
 * one could not be stopped. */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL)
        return luaL_error(L, "__gc metamethods are not allowed here");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* string.find/match/gmatch/gsub: Lua's matcher backtracks in C, where the
 * count hook cannot stop it, in time up to len^k for a pattern with k
 * unbounded repetitions ('*', '+', '-'), times len + 1 starting positions
 * unless the pattern is anchored with '^' (never in gmatch).  Refuse what
 * could exceed about SB_MATCH_WORK steps. */
#define SB_MATCH_WORK 1e9
static int sb_match_guard(lua_State *L)
{
    size_t len, plen;
    const char *subj = luaL_checklstring(L, 1, &len);
    const char *pat = luaL_checklstring(L, 2, &plen);
    (void)subj;
    int plain = lua_toboolean(L, lua_upvalueindex(2)) && lua_toboolean(L, 4);
    if (!plain) {
        int k = 0;
        for (size_t i = 0; i < plen; i++) {
            if (pat[i] == '%') {
                i++;
                continue;
            }
            if (pat[i] == '*' || pat[i] == '+' || pat[i] == '-')
                k++;
        }
        int anchored = plen > 0 && pat[0] == '^' && lua_toboolean(L, lua_upvalueindex(3));
        double work = anchored ? 1 : (double)len + 1;
        for (int i = 0; i < k && work <= SB_MATCH_WORK; i++)
            work *= (double)len + 1;
        if (k > 0 && work > SB_MATCH_WORK)
            return luaL_error(L, "pattern with %d repetition%s is too costly on a string of %d bytes", k,
                              k == 1 ? "" : "s", (int)len);
    }
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static void sb_guard(lua_State *L, int strtab, const char *name, int is_find)
{
    lua_getfield(L, strtab, name);
    lua_pushboolean(L, is_find);
    lua_pushboolean(L, strcmp(name, "gmatch") != 0); /* '^' anchors */
    lua_pushcclosure(L, sb_match_guard, 3);
    lua_setfield(L, strtab, name);
}

static int sb_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    return luaL_error(L, "undeclared global '%s'", k ? k : luaL_typename(L, 2));
}

static int sb_newindex(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    return luaL_error(L, "assignment to undeclared global '%s' (use 'local')", k ? k : luaL_typename(L, 2));
}

static void sb_remove(lua_State *L, int table, const char *name)
{
    lua_pushnil(L);
    lua_setfield(L, table, name);
}

/* Runs inside lua_pcall; cannot fail (the libraries are small). */
static int sb_open(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},  {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    sb_remove(L, g, "dofile");
    sb_remove(L, g, "loadfile");
    sb_remove(L, g, "load");
    sb_remove(L, g, "require");
    sb_remove(L, g, "collectgarbage");
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, g, "xpcall");
    lua_getfield(L, g, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setfield(L, g, "setmetatable");

    lua_getfield(L, g, "string");
    sb_remove(L, lua_gettop(L), "dump");
    sb_guard(L, lua_gettop(L), "find", 1);
    sb_guard(L, lua_gettop(L), "match", 0);
    sb_guard(L, lua_gettop(L), "gmatch", 0);
    sb_guard(L, lua_gettop(L), "gsub", 0);
    lua_pop(L, 1);

    lua_getfield(L, g, "math");
    int m = lua_gettop(L);
    lua_getfield(L, m, "randomseed");
    lua_pushvalue(L, -1);
    lua_pushinteger(L, 0);
    lua_call(L, 1, 0);
    lua_pushcclosure(L, sb_randomseed, 1);
    lua_setfield(L, m, "randomseed");
    lua_pop(L, 1);

    lua_newtable(L);
    lua_pushcfunction(L, sb_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); /* getmetatable(_G) is false, setmetatable refused */
    lua_setmetatable(L, g);
    lua_pop(L, 1);
    return 0;
}

Sandbox *sandbox_new(size_t mem_limit, int64_t instr_limit)
{
    Sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->limit = mem_limit ? mem_limit : SANDBOX_MEM_LIMIT;
    sb->instr_limit = instr_limit > 0 ? instr_limit : SANDBOX_INSTR_LIMIT;
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L) {
        free(sb);
        return NULL;
    }
    lua_pushcfunction(sb->L, sb_open);
    if (lua_pcall(sb->L, 0, 0, 0) != LUA_OK) {
        lua_close(sb->L);
        free(sb);
        return NULL;
    }
    return sb;
}

lua_State *sandbox_state(Sandbox *sb)
{
    return sb->L;
}

void sandbox_set_global(Sandbox *sb, const char *name)
{
    lua_State *L = sb->L;
    lua_pushglobaltable(L);
    lua_pushstring(L, name);
    lua_rotate(L, -3, -1); /* value, _G, name -> _G, name, value */
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* The message handler: the error message (a string, or a description of a
 * non-string error object, without calling its metamethods) followed by a
 * traceback. */
static int sb_msgh(lua_State *L)
{
    Sandbox *sb = sb_of(L);
    sb->slack = SB_HANDLER_SLACK;
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static void sb_copy(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

int sandbox_call(Sandbox *sb, int nargs, int nresults, char *err, size_t errlen)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs; /* the function */
    lua_pushcfunction(L, sb_msgh);
    lua_insert(L, base);
    sb->count = 0;
    sb->exceeded = 0;
    sb->mem_exceeded = 0;
    sb->slack = 0;
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, SB_HOOK_STEP);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_sethook(L, NULL, 0, 0);
    sb->slack = 0;
    lua_remove(L, base);
    if (status == LUA_OK)
        return 0;
    const char *msg = lua_tostring(L, -1);
    if (status == LUA_ERRMEM || (sb->mem_exceeded && status == LUA_ERRERR)) {
        char buf[128];
        snprintf(buf, sizeof buf, "memory limit of %zu bytes exceeded", sb->limit);
        sb_copy(err, errlen, buf);
    } else if (status == LUA_ERRERR) {
        char buf[256];
        snprintf(buf, sizeof buf, "error in error handling%s%s", msg ? ": " : "", msg ? msg : "");
        sb_copy(err, errlen, buf);
    } else {
        sb_copy(err, errlen, msg ? msg : "(error object is not a string)");
    }
    lua_pop(L, 1);
    sb->mem_exceeded = 0;
    return -1;
}

int sandbox_run_file(Sandbox *sb, const char *path, int nresults, char *err, size_t errlen)
{
    lua_State *L = sb->L;
    sb->mem_exceeded = 0;
    int status = luaL_loadfilex(L, path, "t");
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg)
            msg = "cannot load";
        if (status == LUA_ERRMEM)
            snprintf(err, errlen, "%s: memory limit of %zu bytes exceeded", path, sb->limit);
        else if (strstr(msg, path))
            sb_copy(err, errlen, msg);
        else
            snprintf(err, errlen, "%s: %s", path, msg);
        lua_pop(L, 1);
        return -1;
    }
    if (sandbox_call(sb, 0, nresults, err, errlen) != 0) {
        /* a memory error carries no position: name the file at least */
        if (err && errlen && strncmp(err, "memory limit", 12) == 0) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s: %s", path, err);
            sb_copy(err, errlen, buf);
        }
        return -1;
    }
    return 0;
}

void sandbox_free(Sandbox *sb)
{
    if (!sb)
        return;
    lua_close(sb->L);
    free(sb);
}
