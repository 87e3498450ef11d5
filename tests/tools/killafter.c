/* killafter: a precise crash injector for tests/crash/crash.sh.
 *   killafter -t CMD [ARG]...       runs CMD, prints its wall time in us
 *   killafter US CMD [ARG]...       runs CMD in its own process group and
 *                                   sends SIGKILL to the group US
 *                                   microseconds after the start
 * The second form prints "killed" when the kill arrived while CMD was
 * running, else "exited N".  A shell's sleep is too coarse for a link that
 * takes 20 ms, hence this tool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: killafter -t|US CMD [ARG]...\n");
        return 2;
    }
    int timing = argv[1][0] == '-' && argv[1][1] == 't';
    long long delay = timing ? 0 : atoll(argv[1]);
    long long t0 = now_us();
    pid_t pid = fork();
    if (pid < 0) {
        perror("killafter: fork");
        return 2;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* the command's output is not the test's business */
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    setpgid(pid, pid);   /* also here: no race with the kill below */
    int st;
    if (timing) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        printf("%lld\n", now_us() - t0);
        return 0;
    }
    struct timespec ts = { (time_t)(delay / 1000000), (long)(delay % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        printf("killed\n");
    else
        printf("exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
