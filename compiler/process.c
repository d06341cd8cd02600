#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"

static int wait_child(pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "shiftc: waiting for %s: %s\n", what, strerror(errno));
            return -1;
        }
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "shiftc: %s was killed by signal %d\n", what, WTERMSIG(st));
        return -1;
    }
    return WEXITSTATUS(st);
}

static int spawn(char *const argv[], int out_fd)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "shiftc: cannot start %s: %s\n", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(out_fd, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "shiftc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return wait_child(pid, argv[0]);
}

int process_run(char *const argv[])
{
    return spawn(argv, 2);
}

int process_capture(char *const argv[], char *buf, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "shiftc: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]), close(fds[1]);
        fprintf(stderr, "shiftc: cannot start %s: %s\n", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        execvp(argv[0], argv);
        fprintf(stderr, "shiftc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t r;
    char sink[256];
    while ((r = read(fds[0], used + 1 < len ? buf + used : sink,
                     used + 1 < len ? len - 1 - used : sizeof sink)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (used + 1 < len)
            used += (size_t)r;
    }
    close(fds[0]);
    if (len)
        buf[used] = '\0';
    return wait_child(pid, argv[0]);
}
