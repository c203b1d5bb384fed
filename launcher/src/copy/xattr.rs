//! Extended attributes, copied as raw bytes: `user.*`, `trusted.*`, `security.*` (file
//! capabilities, SELinux labels) and `system.posix_acl_*` (ACLs) alike. Files and directories
//! through their descriptors; symlinks and nodes, which are never opened, by name through
//! `/proc/self/fd/DIR/NAME` with the l*xattr calls, which do not follow a final symlink.

use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;
use std::ffi::{CStr, CString};

/// Linux's limits: XATTR_LIST_MAX and XATTR_SIZE_MAX (64 KiB each).
const MAX: usize = 64 << 10;

/// Where an inode is.
pub(super) enum Loc<'a> {
    /// An open file or directory (not O_PATH).
    Fd(BorrowedFd<'a>),
    /// Entry `name` of directory `dir`.
    At(BorrowedFd<'a>, &'a CStr),
}

impl Loc<'_> {
    fn proc_path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
        let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
        p.extend_from_slice(name.to_bytes());
        // A file name has no NUL byte.
        CString::new(p).unwrap_or_default()
    }

    fn list(&self, buf: &mut [u8]) -> rustix::io::Result<usize> {
        match self {
            Loc::Fd(fd) => rustix::fs::flistxattr(fd, buf),
            Loc::At(dir, name) => rustix::fs::llistxattr(Self::proc_path(*dir, name).as_c_str(), buf),
        }
    }

    fn get(&self, attr: &CStr, buf: &mut [u8]) -> rustix::io::Result<usize> {
        match self {
            Loc::Fd(fd) => rustix::fs::fgetxattr(fd, attr, buf),
            Loc::At(dir, name) => rustix::fs::lgetxattr(Self::proc_path(*dir, name).as_c_str(), attr, buf),
        }
    }

    fn set(&self, attr: &CStr, value: &[u8]) -> rustix::io::Result<()> {
        let flags = rustix::fs::XattrFlags::empty();
        match self {
            Loc::Fd(fd) => rustix::fs::fsetxattr(fd, attr, value, flags),
            Loc::At(dir, name) => rustix::fs::lsetxattr(Self::proc_path(*dir, name).as_c_str(), attr, value, flags),
        }
    }
}

/// The buffers of the xattr copy (kept for the whole tree).
pub(super) struct XattrCopier {
    names: Vec<u8>,
    value: Vec<u8>,
    /// `security.capability` is left out (the owner changes: file capabilities were granted
    /// to the source's owner, as setuid bits are).
    drop_caps: bool,
}

impl XattrCopier {
    pub fn new(drop_caps: bool) -> Self {
        XattrCopier { names: Vec::new(), value: Vec::new(), drop_caps }
    }

    /// Copies every xattr of `src` to `dst`; returns how many the destination file system did
    /// not support (ENOTSUP: skipped). Errors name the operation and the attribute.
    pub fn copy(&mut self, src: &Loc<'_>, dst: &Loc<'_>) -> Result<u64, (String, Errno)> {
        if self.names.is_empty() {
            self.names = vec![0; MAX];
            self.value = vec![0; MAX];
        }
        let len = match src.list(&mut self.names) {
            Ok(n) => n,
            // The source file system has none.
            Err(Errno::OPNOTSUPP) => return Ok(0),
            Err(e) => return Err(("list xattrs".into(), e)),
        };
        let mut skipped = 0;
        let dropped = |a: &[u8]| a.is_empty() || (self.drop_caps && a == b"security.capability");
        for attr in self.names[..len].split(|b| *b == 0).filter(|a| !dropped(a)) {
            let attr = CString::new(attr).unwrap_or_default();
            let n = match src.get(&attr, &mut self.value) {
                Ok(n) => n,
                // Removed since the list was read.
                Err(Errno::NODATA) => continue,
                Err(e) => return Err((format!("read xattr {}", attr.to_string_lossy()), e)),
            };
            match dst.set(&attr, &self.value[..n]) {
                Ok(()) => {}
                Err(Errno::OPNOTSUPP) => skipped += 1,
                Err(e) => return Err((format!("set xattr {}", attr.to_string_lossy()), e)),
            }
        }
        Ok(skipped)
    }
}
