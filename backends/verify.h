/*
 * The libclang check: every file shiftc emits must parse cleanly, for the
 * target it is meant for, before the compile reports success.
 *
 * Each file is parsed in-process with libclang (LLVM 14's C API) with
 * "-std=c99 -Wall -Wextra -pedantic" plus the target's arguments (its
 * triple and C library headers, Target.clang_args).  A .c file is parsed as
 * a translation unit of its own; a .h file through a one-line unsaved
 * translation unit "#include "FILE.h"", so a header must be self-contained
 * and is judged as code that includes it sees it (with -Wno-unused-function:
 * whether a static function is used is the includer's business, and the .c
 * files that include the header are checked too).  Any diagnostic of severity
 * warning or above fails the check with "DIR/FILE:LINE:COL: warning: ...".
 */
#ifndef SHIFTC_VERIFY_H
#define SHIFTC_VERIFY_H

#include <stddef.h>

/* Parses files[0..nfiles) (names inside dir) with clang_args (a
 * NULL-terminated list, NULL or empty for the host) added to the standard
 * flags.  Returns 0 when no file has a diagnostic of severity warning or
 * above; otherwise -1 with err set to the first such diagnostic as
 * "DIR/FILE:LINE:COL: SEVERITY: MESSAGE [-Wflag]" followed, when there are
 * more, by " (and N more diagnostics)".  A header directory named by the
 * arguments (-isystem DIR, -I DIR) that does not exist is an error naming
 * the Debian package that provides it. */
int verify_c_files(const char *dir, const char *const *files, int nfiles,
                   const char *const *clang_args, char *err, size_t errlen);

/* verify_c_files on every *.c and *.h file of dir, in name order; a dir
 * with none is an error. */
int verify_dir(const char *dir, const char *const *clang_args, char *err, size_t errlen);

#endif
