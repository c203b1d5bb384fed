//! System credentials as nspawn passes them (`--set-credential=`, `--load-credential=`): read
//! once by the launcher, then written by the container's setup into a fresh ramfs on
//! `/run/host/credentials` (directory 0500, files 0400, read-only once written), named by
//! `$CREDENTIALS_DIRECTORY` in PID 1's environment. A systemd guest imports them at boot.

use crate::error::{Error, Result};
use crate::settings::Credential;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the guest finds them.
pub const DIRECTORY: &str = crate::env::CREDENTIALS_DIRECTORY;
/// systemd's CREDENTIAL_SIZE_MAX: the largest credential.
const SIZE_MAX: usize = 1 << 20;

/// Reads every credential's value: `Set` as given, `Load` from an absolute path (a file, or an
/// AF_UNIX stream socket read to its end), or a name in spawnbox's own `$CREDENTIALS_DIRECTORY`.
pub fn load(creds: &[Credential], own_dir: Option<&Path>) -> Result<Vec<(String, Vec<u8>)>> {
    creds
        .iter()
        .map(|c| match c {
            Credential::Set { id, value } => Ok((id.clone(), value.clone())),
            Credential::Load { id, path } => {
                let full = resolve(path, own_dir).map_err(|e| e.context(format!("--load-credential={id}")))?;
                read(&full).map(|v| (id.clone(), v)).map_err(|e| e.context(format!("--load-credential={id}")))
            }
        })
        .collect()
}

fn resolve(path: &Path, own_dir: Option<&Path>) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    match own_dir {
        Some(d) => Ok(d.join(path)),
        None => Err(Error::msg(format!(
            "{}: not an absolute path, and spawnbox received no credentials ($CREDENTIALS_DIRECTORY is not set)",
            path.display()
        ))),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    let st = rustix::fs::stat(path).map_err(|e| Error::path("stat", path, e))?;
    let mut data = Vec::new();
    let r = if st.st_mode & 0o170000 == 0o140000 {
        std::os::unix::net::UnixStream::connect(path).and_then(|s| s.take(SIZE_MAX as u64 + 1).read_to_end(&mut data))
    } else {
        std::fs::File::open(path).and_then(|f| f.take(SIZE_MAX as u64 + 1).read_to_end(&mut data))
    };
    r.map_err(|e| Error::path("read", path, rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO)))?;
    if data.len() > SIZE_MAX {
        return Err(Error::msg(format!("{}: credential larger than {} bytes", path.display(), SIZE_MAX)));
    }
    Ok(data)
}

/// A detached, read-only ramfs holding `creds` (files 0400, directory 0500, owned by whoever
/// creates them: the container's root).
pub fn make_fs(creds: &[(String, Vec<u8>)]) -> Result<OwnedFd> {
    let mnt = crate::mounts::new_fs(
        "ramfs",
        "mode=0700",
        crate::mount_plan::attr::NOSUID | crate::mount_plan::attr::NODEV | crate::mount_plan::attr::NOEXEC,
    )
    .map_err(|e| e.context(DIRECTORY))?;
    let dir = rustix::fs::openat(&mnt, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", Path::new(DIRECTORY), e))?;
    for (id, value) in creds {
        write(dir.as_fd(), id, value).map_err(|e| Error::path("write", &Path::new(DIRECTORY).join(id), e))?;
    }
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o500)).map_err(|e| Error::path("chmod", Path::new(DIRECTORY), e))?;
    crate::sys::mount_setattr(mnt.as_fd(), crate::sys::MOUNT_ATTR_RDONLY, 0, false)
        .map_err(|e| Error::path("make read-only", Path::new(DIRECTORY), e))?;
    Ok(mnt)
}

fn write(dir: BorrowedFd<'_>, id: &str, value: &[u8]) -> rustix::io::Result<()> {
    let fd = rustix::fs::openat(
        dir,
        id,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o400),
    )?;
    crate::run_host::write_all(fd.as_fd(), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_loaded_from_files_and_the_own_directory() {
        let dir = std::env::temp_dir().join(format!("spawnbox-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), b"secret\n").unwrap();
        let creds = vec![
            Credential::Set { id: "a".into(), value: b"x\0y".to_vec() },
            Credential::Load { id: "b".into(), path: dir.join("pw") },
            Credential::Load { id: "c".into(), path: PathBuf::from("pw") },
        ];
        let got = load(&creds, Some(&dir)).unwrap();
        assert_eq!(
            got,
            vec![
                ("a".into(), b"x\0y".to_vec()),
                ("b".into(), b"secret\n".to_vec()),
                ("c".into(), b"secret\n".to_vec())
            ]
        );
        let e = load(&creds[2..], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--load-credential=c: pw: not an absolute path, and spawnbox received no credentials ($CREDENTIALS_DIRECTORY is not set)"
        );
        let e = load(&[Credential::Load { id: "d".into(), path: dir.join("missing") }], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--load-credential=d: stat {}: no such file or directory", dir.join("missing").display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
