#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

/* In the child: cwd, stdin from /dev/null when asked, stdout to out_fd. */
static void child_setup(const char *cwd, int null_stdin, int out_fd)
{
    if (cwd && chdir(cwd) != 0) {
        fprintf(stderr, "shiftc: cannot enter %s: %s\n", cwd, strerror(errno));
        _exit(127);
    }
    if (null_stdin) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0 && fd != 0) {
            dup2(fd, 0);
            close(fd);
        }
    }
    dup2(out_fd, 1);
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
        child_setup(NULL, 0, out_fd);
        execvp(argv[0], argv);
        fprintf(stderr, "shiftc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return wait_child(pid, argv[0]);
}

static int timeout_seconds; /* 0: wait forever */

void process_set_timeout(int seconds)
{
    timeout_seconds = seconds > 0 ? seconds : 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int process_run(char *const argv[])
{
    return spawn(argv, 2);
}

int process_capture(char *const argv[], char *buf, size_t len)
{
    return process_capture_in(NULL, argv, buf, len);
}

int process_capture_in(const char *cwd, char *const argv[], char *buf, size_t len)
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
        child_setup(cwd, 1, fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "shiftc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t r;
    char sink[256];
    long long deadline = timeout_seconds ? now_ms() + 1000LL * timeout_seconds : 0;
    for (;;) {
        if (deadline) {
            /* a program that loops forever (or an emulator that never exits)
               must not hang shiftc */
            long long left = deadline - now_ms();
            struct pollfd pfd = {fds[0], POLLIN, 0};
            int ready = left > 0 ? poll(&pfd, 1, (int)(left > 60000 ? 60000 : left)) : 0;
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready == 0 && now_ms() >= deadline) {
                kill(pid, SIGKILL);
                close(fds[0]);
                wait_child(pid, argv[0]);
                fprintf(stderr, "shiftc: %s did not finish within %d s and was stopped (see --timeout)\n",
                        argv[0], timeout_seconds);
                if (len)
                    buf[used] = '\0';
                return -1;
            }
            if (ready == 0)
                continue;
        }
        r = read(fds[0], used + 1 < len ? buf + used : sink,
                     used + 1 < len ? len - 1 - used : sizeof sink);
        if (r == 0)
            break;
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

int process_have(const char *prog)
{
    struct stat st;
    if (strchr(prog, '/'))
        return stat(prog, &st) == 0 && S_ISREG(st.st_mode) && access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        char full[4096];
        if (snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? path : ".", prog) < (int)sizeof full &&
            stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
            return 1;
        path += n + (colon != NULL);
        if (!colon)
            break;
    }
    return 0;
}
