/* Running the tools a compiled model is built and run with (make, the
 * runner, an emulator, size): fork/exec with an argument vector, never a
 * shell. */
#ifndef SHIFTC_PROCESS_H
#define SHIFTC_PROCESS_H

#include <stddef.h>

/* Runs argv[0] with argv, stdout sent to stderr so that shiftc's own stdout
 * stays clean for --json.  Returns the exit status, or -1 (message printed)
 * when it could not be started or was killed by a signal. */
int process_run(char *const argv[]);

/* Like process_run, but captures up to len-1 bytes of stdout into buf, and
 * stdin is /dev/null (an emulator must not take the terminal). */
int process_capture(char *const argv[], char *buf, size_t len);

/* process_capture in directory cwd (NULL: the current one). */
int process_capture_in(const char *cwd, char *const argv[], char *buf, size_t len);

/* Later captures stop (SIGKILL) a program still running after seconds
 * (0: no limit) and return -1 with a message. */
void process_set_timeout(int seconds);

/* Is prog (a name looked up in PATH, or a path) an executable file? */
int process_have(const char *prog);

#endif
