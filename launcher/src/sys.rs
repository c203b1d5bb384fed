//! The syscall seam for what rustix does not offer: clone3, signal masks and signalfd,
//! mount_setattr, close_range, execve/execveat, raw signals and bpf. One thin function each.
#![allow(unsafe_code)]

use rustix::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::io::Errno;
use std::ffi::{CStr, CString};

fn errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
}

/// `struct clone_args` of clone3(2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Result of [`clone_process`] as seen by each side.
pub enum Forked {
    Parent { pid: i32 },
    Child,
}

/// fork(2) into new namespaces: clone3(2) with `flags` (CLONE_NEW*), SIGCHLD as exit signal,
/// falling back to clone(2) on kernels without clone3.
///
/// The child is a copy of this single-threaded process; it runs in a new PID namespace, so the
/// thread id that libc caches is never used to signal anyone outside it.
/// With `cgroup`, the child starts in that cgroup (CLONE_INTO_CGROUP); there is no fallback
/// for kernels without clone3 then.
pub fn clone_process(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, Errno> {
    const CLONE_INTO_CGROUP: u64 = 0x200000000;
    let mut args = CloneArgs { flags, exit_signal: libc::SIGCHLD as u64, ..Default::default() };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork(2); the launcher is
    // single-threaded, so the child's copy of the heap and locks is consistent.
    let mut ret =
        unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>()) };
    if ret < 0 && errno() == Errno::NOSYS && cgroup.is_none() {
        // SAFETY: as above, the classic clone(2) with a null stack is fork(2) with flags. The
        // other four arguments are zero: their order differs per arch (tls and child_tid swap).
        ret = unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags as libc::c_ulong | libc::SIGCHLD as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
    }
    match ret {
        r if r < 0 => Err(errno()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent { pid: pid as i32 }),
    }
}

/// unshare(2) of the namespaces in `flags` (CLONE_NEW*).
pub fn unshare(flags: i32) -> Result<(), Errno> {
    // SAFETY: unshare has no memory arguments; the process is single-threaded.
    if unsafe { libc::unshare(flags) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// A set of signals (`sigset_t`).
#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    /// The empty set.
    pub fn empty() -> Self {
        // SAFETY: sigemptyset initialises the zeroed set it is given.
        unsafe {
            let mut s: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut s);
            SigSet(s)
        }
    }

    /// The set of the given signal numbers.
    pub fn of(signals: &[i32]) -> Self {
        let mut s = Self::empty();
        for &sig in signals {
            // SAFETY: s.0 is an initialised sigset_t; invalid numbers are rejected with EINVAL.
            unsafe { libc::sigaddset(&mut s.0, sig) };
        }
        s
    }
}

/// sigprocmask(SIG_SETMASK); returns the previous mask.
pub fn set_signal_mask(set: &SigSet) -> Result<SigSet, Errno> {
    let mut old = SigSet::empty();
    // SAFETY: both pointers are valid sigset_t values.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set.0, &mut old.0) };
    if r != 0 {
        return Err(Errno::from_raw_os_error(r));
    }
    Ok(old)
}

/// Sets SIGPIPE's disposition to ignore (`true`) or default (`false`).
pub fn ignore_sigpipe(ignore: bool) {
    let handler = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: installing SIG_IGN/SIG_DFL has no handler code to be unsafe about.
    unsafe { libc::signal(libc::SIGPIPE, handler) };
}

/// signalfd(2) for `set` (the signals must be blocked).
pub fn signalfd(set: &SigSet) -> Result<OwnedFd, Errno> {
    // SAFETY: set.0 is a valid sigset_t; the returned fd is owned by us.
    let fd = unsafe { libc::signalfd(-1, &set.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: fd is a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal number from a signalfd, `None` if none is pending.
pub fn read_signalfd(fd: BorrowedFd<'_>) -> Result<Option<i32>, Errno> {
    // SAFETY: signalfd_siginfo is plain old data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the buffer is exactly one signalfd_siginfo.
    let n = unsafe { libc::read(fd.as_raw_fd(), &mut info as *mut _ as *mut libc::c_void, size) };
    if n < 0 {
        let e = errno();
        return if e == Errno::AGAIN { Ok(None) } else { Err(e) };
    }
    Ok((n as usize == size).then_some(info.ssi_signo as i32))
}

/// kill(2) with any signal number, real-time signals included.
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill has no memory arguments.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `MOUNT_ATTR_RDONLY`.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// mount_setattr(2) on the mount `fd` refers to (AT_EMPTY_PATH), recursively if asked.
pub fn mount_setattr(fd: BorrowedFd<'_>, set: u64, clear: u64, recursive: bool) -> Result<(), Errno> {
    setattr(fd, &MountAttr { attr_set: set, attr_clr: clear, propagation: 0, userns_fd: 0 }, recursive)
}

/// mount_setattr(2) making the mount `fd` (and its submounts if asked) a slave: a clone of a
/// shared host mount would otherwise stay in the host's peer group. `set`: `MOUNT_ATTR_*`
/// flags set in the same call.
pub fn mount_make_slave(fd: BorrowedFd<'_>, set: u64, recursive: bool) -> Result<(), Errno> {
    const MS_SLAVE: u64 = 1 << 19;
    setattr(fd, &MountAttr { attr_set: set, attr_clr: 0, propagation: MS_SLAVE, userns_fd: 0 }, recursive)
}

/// mount_setattr(2) setting the propagation of the mount `fd` (and its submounts if asked):
/// one of `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`, `MS_UNBINDABLE`.
pub fn mount_set_propagation(fd: BorrowedFd<'_>, propagation: u64, recursive: bool) -> Result<(), Errno> {
    setattr(fd, &MountAttr { attr_set: 0, attr_clr: 0, propagation, userns_fd: 0 }, recursive)
}

/// `MOUNT_ATTR_IDMAP`.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// mount_setattr(2) with MOUNT_ATTR_IDMAP: the detached mount `fd` (recursively if asked) shows
/// ownership through the mapping of the user namespace `userns`.
pub fn mount_setattr_idmap(fd: BorrowedFd<'_>, userns: BorrowedFd<'_>, recursive: bool) -> Result<(), Errno> {
    let attr =
        MountAttr { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: userns.as_raw_fd() as u64 };
    setattr(fd, &attr, recursive)
}

fn setattr(fd: BorrowedFd<'_>, attr: &MountAttr, recursive: bool) -> Result<(), Errno> {
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the path is an empty C string, attr is a valid mount_attr of the given size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Makes descriptor number `fd` refer to what `with` refers to (dup3(2), close-on-exec): what
/// `fd` referred to is closed, the number stays valid for whoever owns it.
pub fn replace_fd(fd: RawFd, with: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: dup3 on two descriptor numbers; `fd` stays open (now a copy of `with`), so its
    // owner's later close is still its own.
    let r = unsafe { libc::dup3(with.as_raw_fd(), fd, libc::O_CLOEXEC) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Closes every descriptor from 3 up except those in `keep` (close_range(2) over the gaps).
pub fn close_all_except(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= 3).collect();
    crate::sort::sort(&mut keep);
    let mut first: libc::c_uint = 3;
    for fd in keep.into_iter().chain(std::iter::once(RawFd::MAX)) {
        let fd = fd as libc::c_uint;
        if fd > first {
            // SAFETY: these descriptors are not used after this point (the kept ones are).
            let r = unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0) };
            if r < 0 {
                for n in first..fd.min(1024) {
                    // SAFETY: as above.
                    unsafe { libc::close(n as RawFd) };
                }
            }
        }
        first = fd.saturating_add(1);
    }
}

/// Marks every descriptor from `first` up close-on-exec (close_range(CLOSE_RANGE_CLOEXEC)).
pub fn cloexec_from(first: RawFd) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;
    // SAFETY: only descriptor flags change; descriptors stay valid until exec.
    let r =
        unsafe { libc::syscall(libc::SYS_close_range, first as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        for fd in first..1024 {
            // SAFETY: F_SETFD on a possibly-closed descriptor fails harmlessly with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

fn ptr_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// execve(2); returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    let (a, e) = (ptr_array(argv), ptr_array(envp));
    // SAFETY: all pointers are NUL-terminated strings kept alive by argv/envp, arrays end in null.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    errno()
}

/// execveat(fd, "", AT_EMPTY_PATH): executes the file `fd` refers to; returns only on failure.
pub fn execveat_fd(fd: BorrowedFd<'_>, argv: &[CString], envp: &[CString]) -> Errno {
    let (a, e) = (ptr_array(argv), ptr_array(envp));
    // SAFETY: as for execve; the empty path with AT_EMPTY_PATH executes fd itself.
    unsafe {
        libc::syscall(libc::SYS_execveat, fd.as_raw_fd(), c"".as_ptr(), a.as_ptr(), e.as_ptr(), libc::AT_EMPTY_PATH)
    };
    errno()
}

/// setfsgid(2) and setfsuid(2): the ids new inodes get and file access is checked with.
/// Both calls report the previous id, never an error: the ids are read back to check them.
/// libc's wrappers, not raw `SYS_setfs*id`: on 32-bit arm (and i386) those are the 16-bit-id
/// calls, and libc uses `setfs*id32` there.
pub fn set_fs_ids(uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: plain integer calls; -1 is never a valid id, so those calls only read back.
    let (g, u) = unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
        (libc::setfsgid(u32::MAX), libc::setfsuid(u32::MAX))
    };
    if g as u32 != gid || u as u32 != uid {
        return Err(Errno::PERM);
    }
    Ok(())
}

/// Closes `fd` in an orphaned grandchild, so that what the kernel does on its last close does
/// not hold up this process: closing an nfnetlink socket after a ruleset change waits an RCU
/// grace period (about 20 ms) for nf_tables' transaction cleanup, after the change itself is
/// committed. The grandchild's copy must be the last, and it must be the only thing of the
/// launcher that outlives it (a copy of the registry lock or the console must not):
/// - the intermediate child closes every descriptor but `fd` and a pipe (standard streams too:
///   a caller reading the launcher's output to its end must not wait for this), forks the
///   grandchild, closes its `fd` and exits;
/// - the grandchild closes the pipe's write end, waits for EOF, which comes once this process
///   and the intermediate child have both closed theirs, each after its `fd`, then calls
///   `before_close` and closes `fd`;
/// - this process closes `fd`, then the pipe, and reaps the intermediate child, so when it
///   returns the grandchild holds nothing but `fd` and the pipe's read end.
///
/// Without a pipe or a child, `fd` is closed here.
pub fn close_detached(fd: OwnedFd, before_close: fn(&OwnedFd)) {
    let Ok((r, w)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else { return drop(fd) };
    match clone_process(0, None) {
        Ok(Forked::Child) => {
            for n in 0..3 {
                // SAFETY: this process only closes descriptors, forks and exits from here on.
                unsafe { libc::close(n) };
            }
            close_all_except(&[fd.as_raw_fd(), r.as_raw_fd(), w.as_raw_fd()]);
            if let Ok(Forked::Child) = clone_process(0, None) {
                drop(w);
                let mut b = [0u8; 1];
                while let Err(rustix::io::Errno::INTR) = rustix::io::read(&r, &mut b) {}
                before_close(&fd);
            }
            drop(fd);
            exit_now(0)
        }
        Ok(Forked::Parent { pid }) => {
            drop(fd);
            drop(w);
            drop(r);
            let pid = rustix::process::Pid::from_raw(pid);
            let _ = rustix::process::waitpid(pid, rustix::process::WaitOptions::empty());
        }
        Err(_) => drop(fd),
    }
}

/// Leaves the process at once, without running exit handlers (for forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// makedev(3).
pub fn makedev(major: u32, minor: u32) -> u64 {
    libc::makedev(major, minor)
}

/// `struct rlimit64` of prlimit64(2).
#[repr(C)]
struct Rlimit64 {
    cur: u64,
    max: u64,
}

/// prlimit64(2) setting resource number `resource` of process `pid` (0: the caller).
pub fn prlimit(pid: i32, resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let new = Rlimit64 { cur: soft, max: hard };
    // SAFETY: new is a valid rlimit64, the old-value pointer is null.
    let r = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            pid,
            resource as libc::c_uint,
            &new as *const Rlimit64,
            std::ptr::null_mut::<Rlimit64>(),
        )
    };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// prlimit64(2) reading resource number `resource` of process `pid` (0: the caller).
pub fn prlimit_get(pid: i32, resource: u32) -> Result<(u64, u64), Errno> {
    let mut old = Rlimit64 { cur: 0, max: 0 };
    // SAFETY: the new-value pointer is null, old is a valid rlimit64 to fill.
    let r = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            pid,
            resource as libc::c_uint,
            std::ptr::null::<Rlimit64>(),
            &mut old as *mut Rlimit64,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    Ok((old.cur, old.max))
}

/// personality(2): sets the execution domain; returns the previous one.
pub fn personality(persona: u32) -> Result<u32, Errno> {
    // SAFETY: personality has no memory arguments.
    let r = unsafe { libc::syscall(libc::SYS_personality, persona as libc::c_ulong) };
    if r < 0 {
        return Err(errno());
    }
    Ok(r as u32)
}

/// sched_setaffinity(2) of the calling thread to the CPUs `cpus` (any index, the mask grows).
pub fn sched_setaffinity(cpus: &[u32]) -> Result<(), Errno> {
    let words = cpus.iter().max().map_or(1, |m| *m as usize / 64 + 1);
    let mut mask = vec![0u64; words];
    for &c in cpus {
        mask[c as usize / 64] |= 1 << (c % 64);
    }
    // SAFETY: the mask is `words` u64 values, its size in bytes is passed.
    let r = unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, words * 8, mask.as_ptr()) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// seccomp(SECCOMP_SET_MODE_FILTER, 0, prog): installs a classic BPF program (`struct
/// sock_filter` records, 8 bytes each) on the calling thread.
pub fn seccomp_set_mode_filter(prog: &[u8]) -> std::result::Result<(), Errno> {
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    let fprog =
        libc::sock_fprog { len: (prog.len() / 8) as libc::c_ushort, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies it and needs no alignment.
    let r = unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0 as libc::c_ulong, &fprog as *const libc::sock_fprog)
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to `expected_attach_type` (the kernel zero-fills the
/// rest).
#[repr(C)]
struct BpfProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH, up to `replace_bpf_fd`.
#[repr(C)]
struct BpfProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// bpf(BPF_PROG_LOAD) of an eBPF program (`struct bpf_insn` records, 8 bytes each) of type
/// `prog_type` named `name` (at most 15 bytes are used); with `log`, the verifier's log
/// (level 1) is written there. Returns the program's fd (close-on-exec).
pub fn bpf_prog_load(
    prog_type: u32,
    insns: &[u8],
    license: &CStr,
    name: &str,
    log: Option<&mut [u8]>,
) -> Result<OwnedFd, Errno> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    let mut prog_name = [0u8; 16];
    for (d, s) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    let (log_level, log_size, log_buf) = match log {
        Some(buf) if !buf.is_empty() => (1, buf.len().min(u32::MAX as usize) as u32, buf.as_mut_ptr() as u64),
        _ => (0, 0, 0),
    };
    let attr = BpfProgLoadAttr {
        prog_type,
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type: 0,
    };
    // SAFETY: attr is a fully initialised bpf_attr prefix whose size is passed; insns, license and
    // the log buffer (with its length) are alive for the call; the kernel copies the program and
    // writes at most log_size bytes of log. A returned fd is new and owned by nobody else.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const BpfProgLoadAttr,
            std::mem::size_of::<BpfProgLoadAttr>() as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    // SAFETY: r is a new fd (BPF fds are close-on-exec) owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// bpf(BPF_PROG_ATTACH): attaches program `prog` to `target` (a cgroup directory) at
/// `attach_type` with `flags` (BPF_F_ALLOW_OVERRIDE, BPF_F_ALLOW_MULTI).
pub fn bpf_prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> Result<(), Errno> {
    const BPF_PROG_ATTACH: libc::c_long = 8;
    let attr = BpfProgAttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    // SAFETY: attr is a fully initialised bpf_attr prefix whose size is passed; both fds are
    // borrowed, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const BpfProgAttachAttr,
            std::mem::size_of::<BpfProgAttachAttr>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// The `CLONE_NEW*` type of the namespace `fd` refers to: ioctl(2) `NS_GET_NSTYPE` of
/// ioctl_ns(2) (ENOTTY when `fd` is no namespace file).
pub fn namespace_type(fd: BorrowedFd<'_>) -> Result<i32, Errno> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the descriptor.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if r < 0 {
        return Err(errno());
    }
    Ok(r)
}
