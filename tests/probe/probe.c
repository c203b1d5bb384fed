/* The seccomp probe: calls system calls with harmless arguments and prints NAME=RESULT per
 * check named on the command line (RESULT: the return value, or -ERRNO). Built static by
 * tests/seccomp.rs (cc -static -O2) and copied into the container tree. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define X32 0x40000000L

/* A raw syscall: the result, or -errno. */
static long sc(long nr, long a, long b, long c, long d, long e) {
    long r = syscall(nr, a, b, c, d, e, 0L);
    return r < 0 ? -errno : r;
}

/* An i386 system call through int 0x80 (no pointers: they would be truncated). */
static long int80(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return (int)r;
}

static long check(const char *n) {
    struct timespec ts = {0, 0};
    long tv[2] = {0, 2000000}; /* tv_usec out of range: EINVAL from the kernel */
    if (!strcmp(n, "getpid")) return sc(SYS_getpid, 0, 0, 0, 0, 0);
    if (!strcmp(n, "kexec_load")) return sc(SYS_kexec_load, 0, 1000, 0, 0xffff0000L, 0);
    if (!strcmp(n, "kexec_file_load")) return sc(SYS_kexec_file_load, -1, -1, 0, 0, 0xffff);
    if (!strcmp(n, "init_module")) return sc(SYS_init_module, 0, 0, (long)"", 0, 0);
    if (!strcmp(n, "finit_module")) return sc(SYS_finit_module, -1, (long)"", 0, 0, 0);
    if (!strcmp(n, "delete_module")) return sc(SYS_delete_module, (long)"spawnbox_no_such_module", O_NONBLOCK, 0, 0, 0);
    if (!strcmp(n, "keyctl")) return sc(SYS_keyctl, 0, -1000, 0, 0, 0);
    if (!strcmp(n, "add_key")) return sc(SYS_add_key, (long)"", (long)"", 0, 0, 0);
    if (!strcmp(n, "bpf")) return sc(SYS_bpf, -1, 0, 0, 0, 0);
    if (!strcmp(n, "swapon")) return sc(SYS_swapon, (long)"/spawnbox-no-such-swap", 0, 0, 0, 0);
    if (!strcmp(n, "swapoff")) return sc(SYS_swapoff, (long)"/spawnbox-no-such-swap", 0, 0, 0, 0);
    if (!strcmp(n, "open_by_handle_at")) return sc(SYS_open_by_handle_at, -1, 0, 0, 0, 0);
    if (!strcmp(n, "perf_event_open")) return sc(SYS_perf_event_open, 0, 0, -1, -1, 0);
    if (!strcmp(n, "reboot_bad_magic")) return sc(SYS_reboot, 0, 0, 0, 0, 0);
    if (!strcmp(n, "reboot_poweroff")) {
        if (getpid() != 1) return -EPERM; /* never outside a PID namespace of its own */
        return sc(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
    }
    if (!strcmp(n, "clock_settime_monotonic")) return sc(SYS_clock_settime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0);
    if (!strcmp(n, "settimeofday_bad")) return sc(SYS_settimeofday, (long)tv, 0, 0, 0, 0);
    if (!strcmp(n, "mkdir")) return sc(SYS_mkdir, (long)"/probe-mkdir", 0755, 0, 0, 0);
    if (!strcmp(n, "mkdirat")) return sc(SYS_mkdirat, AT_FDCWD, (long)"/probe-mkdirat", 0755, 0, 0);
    if (!strcmp(n, "fchmodat2_bad_flags")) return sc(452, AT_FDCWD, (long)"/spawnbox-no-such-file", 0, 0xffff, 0);
    if (!strcmp(n, "netlink_audit")) return sc(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, 0, 0);
    if (!strcmp(n, "netlink_audit_high_bits")) return sc(SYS_socket, 0x100000000L | AF_NETLINK, SOCK_RAW, 0x100000000L | NETLINK_AUDIT, 0, 0);
    if (!strcmp(n, "netlink_route")) return sc(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, 0) >= 0 ? 0 : -errno;
    if (!strcmp(n, "nr_1000")) return sc(1000, 0, 0, 0, 0, 0);
    if (!strcmp(n, "x32_getpid")) return sc(X32 | 39, 0, 0, 0, 0, 0);
    if (!strcmp(n, "x32_keyctl")) return sc(X32 | 250, 0, -1000, 0, 0, 0);
    if (!strcmp(n, "x32_kexec_load")) return sc(X32 | 528, 0, 1000, 0, 0xffff0000L, 0);
    if (!strcmp(n, "x32_nr_1000")) return sc(X32 | 1000, 0, 0, 0, 0, 0);
    if (!strcmp(n, "x32_x86_64_rt_sigaction")) return sc(X32 | 13, 0, 0, 0, 8, 0);
    if (!strcmp(n, "i386_getpid")) return int80(20, 0, 0, 0);
    if (!strcmp(n, "i386_keyctl")) return int80(288, 0, -1000, 0);
    if (!strcmp(n, "i386_kexec_load")) return int80(283, 0, 1000, 0);
    if (!strcmp(n, "i386_nr_1000")) return int80(1000, 0, 0, 0);
    if (!strcmp(n, "i386_socket_audit")) return int80(359, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    if (!strcmp(n, "i386_mkdir_null")) return int80(39, 0, 0755, 0);
    /* --suppress-sync: calls that fail on the kernel (bad descriptor or flags) succeed when
       they are suppressed; O_SYNC/O_DSYNC opens fail with EINVAL. */
    if (!strcmp(n, "fsync_bad_fd")) return sc(SYS_fsync, -1, 0, 0, 0, 0);
    if (!strcmp(n, "fdatasync_bad_fd")) return sc(SYS_fdatasync, -1, 0, 0, 0, 0);
    if (!strcmp(n, "syncfs_bad_fd")) return sc(SYS_syncfs, -1, 0, 0, 0, 0);
    if (!strcmp(n, "sync_file_range_bad_flags")) return sc(SYS_sync_file_range, -1, 0, 0, 0xff, 0);
    if (!strcmp(n, "msync_unaligned")) return sc(SYS_msync, 1, 1, 0, 0, 0);
    if (!strcmp(n, "open_osync")) { long r = sc(SYS_open, (long)"/probe", O_RDONLY | O_SYNC, 0, 0, 0); if (r >= 0) close((int)r); return r >= 0 ? 0 : r; }
    if (!strcmp(n, "openat_odsync")) { long r = sc(SYS_openat, AT_FDCWD, (long)"/probe", O_RDONLY | O_DSYNC, 0, 0); if (r >= 0) close((int)r); return r >= 0 ? 0 : r; }
    if (!strcmp(n, "openat_plain")) { long r = sc(SYS_openat, AT_FDCWD, (long)"/probe", O_RDONLY, 0, 0); if (r >= 0) close((int)r); return r >= 0 ? 0 : r; }
    return -9999;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++) printf("%s=%ld\n", argv[i], check(argv[i]));
    return 0;
}
