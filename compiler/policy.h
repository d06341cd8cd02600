/*
 * Lua precision policies (--policy FILE.lua): scripts that read the layers'
 * sensitivities and the costs of their candidates and set or constrain
 * per-layer precision.  The file runs in a sandbox (lua_sandbox.h) and
 * returns a table; docs/policies.md is the user's guide and
 * examples/policies/ the examples.  Every error message starts with
 * "FILE:LINE:" when it comes from the script.
 */
#ifndef SHIFTC_POLICY_H
#define SHIFTC_POLICY_H

#include <stddef.h>

#include "search.h"

typedef struct Policy Policy;

/* Runs the file's top level; params are "KEY=VALUE" strings from
 * --policy-arg, visible to the script as the table `params`.  NULL on error
 * (message in err). */
Policy *policy_load(const char *path, const char *const *params, int nparams, char *err, size_t errlen);

/* The budget the policy's table asks for ("flash=24KiB"), or NULL; the
 * command line's --budget wins. */
const char *policy_budget(const Policy *p);

/* Applies the declarative rules and the candidate, objective and tie hooks
 * to s.  Returns 0, or -1 with err. */
int policy_constrain(Policy *p, SearchSpace *s, char *err, size_t errlen);

/* The choose hook: *pick = the frontier point the policy takes (-1 when it
 * has no such hook, leaving the default: least objective within limit). */
int policy_choose(Policy *p, const SearchSpace *s, const Frontier *f, double limit, int *pick, char *err,
                  size_t errlen);

void policy_free(Policy *p);

#endif
