//! execvpe semantics without allocation: search PATH for a command name, building each
//! candidate `dir/name` in a stack buffer.

use crate::sys;
use core::ffi::{c_char, CStr};
use rustix::io::Errno;

/// Used when the environment has no PATH (systemd's default search path).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest path we build (PATH_MAX).
const PATH_MAX: usize = 4096;

/// `dir/name` as a C string in `buf`; an empty `dir` means the current directory
/// (POSIX). `None` if it does not fit.
pub fn join<'b>(dir: &[u8], name: &[u8], buf: &'b mut [u8; PATH_MAX]) -> Option<&'b CStr> {
    let sep = usize::from(!dir.is_empty());
    let len = dir.len() + sep + name.len();
    if len + 1 > buf.len() {
        return None;
    }
    let slash: &[u8] = if sep == 1 { b"/" } else { b"" };
    // Byte loops instead of copy_from_slice: no length-mismatch panic path in the child.
    let bytes = dir.iter().chain(slash).chain(name).chain(&[0u8]);
    for (slot, &b) in buf.iter_mut().zip(bytes) {
        *slot = b;
    }
    CStr::from_bytes_with_nul(buf.get(..=len)?).ok()
}

/// Execute `file` with `argv`/`envp`, searching `path` when `file` has no slash, as
/// execvpe(3) does: EACCES from one directory does not stop the search, but is what is
/// reported if nothing else is found. Returns only on failure.
pub fn execvpe(file: &CStr, argv: *const *const c_char, envp: *const *const c_char, path: &[u8]) -> Errno {
    let name = file.to_bytes();
    if name.is_empty() {
        return Errno::NOENT;
    }
    if name.contains(&b'/') {
        return sys::execve(file, argv, envp);
    }
    if name.len() > 255 {
        return Errno::NAMETOOLONG;
    }
    let mut buf = [0u8; PATH_MAX];
    let mut seen_eacces = false;
    for dir in path.split(|&b| b == b':') {
        let Some(candidate) = join(dir, name, &mut buf) else {
            continue;
        };
        match sys::execve(candidate, argv, envp) {
            Errno::ACCESS => seen_eacces = true,
            Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG | Errno::LOOP => {}
            e => return e,
        }
    }
    if seen_eacces {
        Errno::ACCESS
    } else {
        Errno::NOENT
    }
}

/// The shell's convention for a command that could not be started.
pub fn exit_code_for(e: Errno) -> i32 {
    if e == Errno::NOENT || e == Errno::NOTDIR {
        127
    } else {
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins() {
        let mut b = [0u8; PATH_MAX];
        assert_eq!(join(b"/usr/bin", b"sh", &mut b).unwrap().to_bytes(), b"/usr/bin/sh");
        assert_eq!(join(b"", b"sh", &mut b).unwrap().to_bytes(), b"sh");
        assert_eq!(join(b"/", b"sh", &mut b).unwrap().to_bytes(), b"//sh");
        let long = [b'd'; PATH_MAX - 3];
        assert!(join(&long, b"sh", &mut b).is_none());
        let fits = [b'd'; PATH_MAX - 4];
        assert_eq!(join(&fits, b"sh", &mut b).unwrap().to_bytes().len(), PATH_MAX - 1);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code_for(Errno::NOENT), 127);
        assert_eq!(exit_code_for(Errno::ACCESS), 126);
        assert_eq!(exit_code_for(Errno::NOEXEC), 126);
    }
}
