//! Root-only tests of OCI mode on this host: a forked child goes through the calls the
//! container child makes (`prepare`, `capabilities`, `before_credentials`, the uid change,
//! `before_exec`) and reports what the kernel says: its capability sets from
//! /proc/self/status, the results of syscalls under the installed profile, rlimit errors.
//! They fail (never skip) without root.
#![allow(unsafe_code)]

use crate::settings::Settings;
use crate::spec::{Caller, OciSpec, Spec};
use std::io::{Read, Write};
use std::os::fd::FromRawFd;

fn require_root() {
    assert!(rustix::process::geteuid().is_root(), "OCI security host tests need root");
}

/// A spec in OCI mode for a config.json whose `process` and `linux` are given.
fn spec(process: &str, linux: &str) -> Spec {
    let settings = Settings {
        directory: Some("/nonexistent-ocitest".into()),
        machine: Some("ocitest".into()),
        quiet: true,
        ..Settings::default()
    };
    let caller = Caller { cwd: std::path::Path::new("/"), stdin_tty: false, stdout_tty: false, host_hostname: "h" };
    let mut spec = Spec::resolve(settings, &caller).expect("spec");
    let json =
        format!(r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}}, "process": {process}, "linux": {linux}}}"#);
    let config = crate::runtime_spec::parse(json.as_bytes()).expect("config.json");
    spec.oci =
        Some(Box::new(OciSpec { id: "c1".into(), bundle: "/b".into(), config, no_cgroups: false, preserve_fds: 0 }));
    spec
}

/// Runs `f` in a forked child and returns what it wrote (or its error, prefixed `error: `).
fn in_child(f: impl FnOnce() -> crate::error::Result<String>) -> String {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only runs `f`, writes to the pipe and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: fds[1] is the pipe's write end, owned here.
        let mut w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let text = match f() {
            Ok(s) => s,
            Err(e) => format!("error: {e}"),
        };
        let _ = w.write_all(text.as_bytes());
        drop(w);
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: closes our copy of the write end; fds[0] is the read end, owned here.
    unsafe { libc::close(fds[1]) };
    let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    let mut out = String::new();
    r.read_to_string(&mut out).expect("read from child");
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}: {out}");
    out
}

/// The container child's path: prepare, bounding set, uid/gid change, the other sets.
fn become_payload(spec: &Spec, uid: u32, gid: u32) -> crate::error::Result<crate::security::Security> {
    let sec = crate::security::prepare(spec)?;
    let caps = sec.capabilities(true)?;
    sec.before_credentials(&caps)?;
    use rustix::process::{Gid, Uid};
    rustix::thread::set_thread_groups(&[]).map_err(|e| crate::error::Error::sys("set", "groups", e))?;
    rustix::thread::set_thread_res_gid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
        .map_err(|e| crate::error::Error::sys("set", "gid", e))?;
    rustix::thread::set_thread_res_uid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
        .map_err(|e| crate::error::Error::sys("set", "uid", e))?;
    sec.before_exec(&caps)?;
    Ok(sec)
}

/// The Cap* lines of /proc/self/status, as "CapInh CapPrm CapEff CapBnd CapAmb" hex words.
fn cap_lines() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"]
        .iter()
        .map(|k| status.lines().find_map(|l| l.strip_prefix(k)).unwrap_or("?").trim().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn hex(m: u64) -> String {
    format!("{m:016x}")
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_DAC_OVERRIDE: u64 = 1 << 1;
const CAP_KILL: u64 = 1 << 5;
const CAP_SETGID: u64 = 1 << 6;
const CAP_SETUID: u64 = 1 << 7;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_NET_RAW: u64 = 1 << 13;
const CAP_SYS_CHROOT: u64 = 1 << 18;

const PROCESS_CAPS: &str = r#"{"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
  "capabilities": {
    "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_SYS_RESOURCE", "CAP_FROBNICATE"],
    "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
    "inheritable": ["CAP_CHOWN", "CAP_NET_RAW"],
    "ambient": ["CAP_NET_RAW"]}}"#;

#[test]
fn oci_capability_sets_land_exactly_for_root_and_others() {
    require_root();
    // CAP_SYS_RESOURCE is not in this host's bounding set: left out (with a warning), as are
    // names the kernel does not know.
    let host = crate::security::caps::host_mask(crate::security::caps::read_last_cap()).unwrap();
    let resource = if host & (1 << 24) != 0 { 1u64 << 24 } else { 0 };
    let bounding = CAP_CHOWN
        | CAP_DAC_OVERRIDE
        | CAP_KILL
        | CAP_SETGID
        | CAP_SETUID
        | CAP_NET_BIND_SERVICE
        | CAP_NET_RAW
        | CAP_SYS_CHROOT
        | resource;
    let want = [
        hex(CAP_CHOWN | CAP_NET_RAW),
        hex(CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE | CAP_NET_RAW),
        hex(CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE),
        hex(bounding),
        hex(CAP_NET_RAW),
    ]
    .join(" ");
    for uid in [0u32, 1000] {
        let process = PROCESS_CAPS.replace(r#""uid": 0, "gid": 0"#, &format!(r#""uid": {uid}, "gid": {uid}"#));
        let s = spec(&process, "{}");
        let got = in_child(|| {
            become_payload(&s, uid, uid)?;
            Ok(format!("{} {}", rustix::process::getuid().as_raw(), cap_lines()))
        });
        assert_eq!(got, format!("{uid} {want}"), "uid {uid}");
    }
    // No capabilities object: every set empty.
    let s = spec(r#"{"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"}"#, "{}");
    let got = in_child(|| {
        become_payload(&s, 0, 0)?;
        Ok(cap_lines())
    });
    assert_eq!(got, [hex(0), hex(0), hex(0), hex(0), hex(0)].join(" "));
}

/// A syscall number no ABI assigns.
const UNASSIGNED: libc::c_long = 1000;

fn errno_of(r: libc::c_long) -> i32 {
    // SAFETY: reads this thread's errno.
    if r < 0 {
        unsafe { *libc::__errno_location() }
    } else {
        0
    }
}

#[test]
fn oci_seccomp_profile_installed_in_a_child() {
    require_root();
    let linux = r#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
      "syscalls": [
        {"names": ["keyctl", "add_key"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_NE"}]},
        {"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}}"#;
    for nnp in [false, true] {
        let process = format!(
            r#"{{"user": {{"uid": 0, "gid": 0}}, "args": ["sh"], "cwd": "/", "noNewPrivileges": {nnp},
          "capabilities": {{"bounding": ["CAP_SETUID", "CAP_SETGID"], "effective": ["CAP_SETUID", "CAP_SETGID"], "permitted": ["CAP_SETUID", "CAP_SETGID"]}}}}"#
        );
        let s = spec(&process, linux);
        let got = in_child(|| {
            let sec = become_payload(&s, 0, 0)?;
            // SAFETY: syscalls with integer arguments (getcwd with a null buffer fails anyway).
            let r = unsafe {
                [
                    errno_of(libc::syscall(libc::SYS_keyctl, 0, 0, 0)),
                    errno_of(libc::syscall(libc::SYS_getcwd, 0, 0)),
                    errno_of(libc::syscall(libc::SYS_personality, 8)),
                    errno_of(libc::syscall(libc::SYS_personality, 0xffff_ffffu32)),
                    errno_of(libc::syscall(libc::SYS_getpid)),
                ]
            };
            let nnp = rustix::thread::no_new_privs().unwrap_or(false);
            Ok(format!("{r:?} nnp={nnp} flags={}", sec.seccomp_flags()))
        });
        // personality(0xffffffff) queries and succeeds; getpid is allowed.
        assert_eq!(got, format!("[{}, {}, {}, 0, 0] nnp={nnp} flags=2", libc::EPERM, libc::EACCES, libc::EINVAL));
    }
}

/// Docker's default profile for this build, through `prepare` (no no_new_privs: installed
/// before the uid change, with CAP_SYS_ADMIN).
#[test]
fn oci_docker_default_profile_in_a_child() {
    require_root();
    let fixture = if cfg!(target_arch = "aarch64") {
        include_str!("seccomp/testdata/docker-default-arm64.json")
    } else {
        include_str!("seccomp/testdata/docker-default-amd64.json")
    };
    let mut config = crate::runtime_spec::parse(fixture.as_bytes()).unwrap();
    let mut s = spec(r#"{"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"}"#, "{}");
    if let Some(o) = s.oci.as_mut() {
        config.process = o.config.process.clone();
        o.config = config;
    }
    let got = in_child(|| {
        become_payload(&s, 0, 0)?;
        // SAFETY: syscalls with integer arguments.
        let r = unsafe {
            [
                errno_of(libc::syscall(libc::SYS_keyctl, 0, 0, 0)),
                errno_of(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)),
                errno_of(libc::syscall(libc::SYS_clone3, 0, 0)),
                errno_of(libc::syscall(libc::SYS_socket, libc::AF_VSOCK, libc::SOCK_STREAM, 0)),
                errno_of(libc::syscall(UNASSIGNED)),
                errno_of(libc::syscall(libc::SYS_getppid)),
            ]
        };
        Ok(format!("{r:?}"))
    });
    let want = [libc::EPERM, libc::EPERM, libc::ENOSYS, libc::EPERM, libc::ENOSYS, 0];
    assert_eq!(got, format!("{want:?}"));
}

#[test]
fn oci_rlimits_exactly_or_runcs_error() {
    require_root();
    let (_, hard) = crate::sys::prlimit_get(0, 7).unwrap();
    let soft = hard.min(512);
    let process = |h: u64| {
        format!(
            r#"{{"user": {{"uid": 0, "gid": 0}}, "args": ["sh"], "cwd": "/", "oomScoreAdj": 100, "rlimits": [{{"type": "RLIMIT_NOFILE", "soft": {soft}, "hard": {h}}}, {{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}}]}}"#
        )
    };
    let s = spec(&process(hard), r#"{"personality": {"domain": "LINUX"}}"#);
    let got = in_child(|| {
        become_payload(&s, 0, 0)?;
        let nofile = crate::sys::prlimit_get(0, 7).map_err(|e| crate::error::Error::sys("get", "nofile", e))?;
        let core = crate::sys::prlimit_get(0, 4).map_err(|e| crate::error::Error::sys("get", "core", e))?;
        let oom = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
        Ok(format!("{nofile:?} {core:?} {}", oom.trim()))
    });
    assert_eq!(got, format!("({soft}, {hard}) (0, 0) 100"));
    if hard != u64::MAX {
        // Raising the hard limit needs CAP_SYS_RESOURCE, which this host's bounding set lacks.
        let caps_here = crate::security::caps::host_mask(40).unwrap();
        if caps_here & (1 << 24) == 0 {
            let s = spec(&process(hard + 1), "{}");
            let got = in_child(|| become_payload(&s, 0, 0).map(|_| String::new()));
            assert_eq!(got, "error: setrlimit RLIMIT_NOFILE: operation not permitted");
        }
    }
}

/// The kernel's verifier takes the OCI device programs of both defaults (a device program
/// must return 0 or 1; the verifier checks the range of r0).
#[test]
fn oci_device_programs_load() {
    use crate::runtime_spec::DeviceRule;
    use crate::security::{devices, devices_oci};
    require_root();
    let rule = |allow: bool, kind: Option<char>, major: Option<i64>, minor: Option<i64>, access: &str| DeviceRule {
        allow,
        kind,
        major,
        minor,
        access: Some(access.to_string()),
    };
    for first in [false, true] {
        let rules = [
            rule(first, None, None, None, "rwm"),
            rule(!first, Some('c'), Some(10), Some(229), "rw"),
            rule(!first, Some('b'), Some(8), None, "m"),
        ];
        let p = devices_oci::policy(&rules, &[]).unwrap();
        assert_eq!(p.default_allow, first);
        let prog = p.assemble();
        let fd = devices::load(&devices::encode(&prog));
        assert!(fd.is_ok(), "default allow {first}: {:?}", fd.err().map(|e| e.to_string()));
    }
}

/// Where this host mounts cgroup2.
fn cgroup2_mount() -> std::path::PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let line = mounts.lines().find(|l| l.split(' ').nth(2) == Some("cgroup2")).expect("a cgroup2 mount");
    line.split(' ').nth(1).unwrap().into()
}

/// An OCI device program attached to a fresh cgroup: a child moved into it opens what the
/// policy allows and gets EPERM for the rest (/dev/kmsg, 1:11: a write-only open needs no
/// capability, so the EPERM is the program's).
#[test]
fn oci_device_program_confines_a_child() {
    use crate::runtime_spec::DeviceRule;
    use crate::security::{devices, devices_oci};
    use rustix::fd::AsFd;
    require_root();
    let rule = |allow: bool, kind: Option<char>, major: Option<i64>, minor: Option<i64>, access: &str| DeviceRule {
        allow,
        kind,
        major,
        minor,
        access: Some(access.to_string()),
    };
    let cases = [
        // Docker's shape: deny everything, runc's allows (null, full, ...).
        (vec![rule(false, None, None, None, "rwm")], "null=0 full=0 kmsg=1"),
        // Allow everything but writes of 1:11.
        (
            vec![rule(true, None, None, None, "rwm"), rule(false, Some('c'), Some(1), Some(11), "w")],
            "null=0 full=0 kmsg=1",
        ),
        // Allow everything but reads of 1:11: a write-only open passes.
        (
            vec![rule(true, None, None, None, "rwm"), rule(false, Some('c'), Some(1), Some(11), "r")],
            "null=0 full=0 kmsg=0",
        ),
    ];
    for (i, (rules, want)) in cases.into_iter().enumerate() {
        let dir = cgroup2_mount().join(format!("spawnbox-ocisec-{}-{i}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let fd =
            rustix::fs::open(&dir, rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty())
                .unwrap();
        let p = devices_oci::policy(&rules, &[]).unwrap();
        let attached = devices::attach_program(fd.as_fd(), &p.assemble()).map_err(|e| e.to_string());
        let procs = dir.join("cgroup.procs");
        let got = attached.map(|_| {
            in_child(|| {
                std::fs::write(&procs, format!("{}", std::process::id()))
                    .map_err(|e| crate::error::Error::msg(format!("join the cgroup: {e}")))?;
                let open = |path: &str, write: bool| {
                    let r = std::fs::OpenOptions::new().read(!write).write(write).open(path);
                    u8::from(r.is_err_and(|e| e.raw_os_error() == Some(libc::EPERM)))
                };
                Ok(format!(
                    "null={} full={} kmsg={}",
                    open("/dev/null", false),
                    open("/dev/full", true),
                    open("/dev/kmsg", true)
                ))
            })
        });
        let _ = std::fs::remove_dir(&dir);
        assert_eq!(got.as_deref(), Ok(want), "case {i}");
    }
}
