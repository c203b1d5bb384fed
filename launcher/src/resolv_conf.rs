//! `--resolv-conf=`: which host file becomes the container's `/etc/resolv.conf`, and how
//! (nspawn's `setup_resolv_conf()`; without systemd-resolved, `auto` copies the host's file).

use crate::settings::{ResolvConfMode, ResolvConfSource};
use std::path::{Path, PathBuf};

/// The decision for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Off,
    Copy(PathBuf),
    Replace(PathBuf),
    Bind(PathBuf),
    Delete,
}

/// The host file a source names.
pub fn source_path(src: ResolvConfSource) -> &'static Path {
    Path::new(match src {
        ResolvConfSource::Host => "/etc/resolv.conf",
        ResolvConfSource::Static => "/usr/lib/systemd/resolv.conf",
        ResolvConfSource::Uplink => "/run/systemd/resolve/resolv.conf",
        ResolvConfSource::Stub => "/run/systemd/resolve/stub-resolv.conf",
    })
}

/// Resolves `mode`; `writable` is false with `--read-only`; `private_network` turns `auto` off.
pub fn decide(
    mode: ResolvConfMode,
    writable: bool,
    private_network: bool,
    host_exists: &dyn Fn(&Path) -> bool,
) -> Action {
    match mode {
        ResolvConfMode::Off => Action::Off,
        ResolvConfMode::Delete => Action::Delete,
        ResolvConfMode::Copy(s) => Action::Copy(source_path(s).into()),
        ResolvConfMode::Replace(s) => Action::Replace(source_path(s).into()),
        ResolvConfMode::Bind(s) => Action::Bind(source_path(s).into()),
        ResolvConfMode::Auto if private_network => Action::Off,
        ResolvConfMode::Auto => {
            let host = source_path(ResolvConfSource::Host);
            match (host_exists(host), writable) {
                (true, true) => Action::Copy(host.into()),
                (true, false) => Action::Bind(host.into()),
                (false, true) => Action::Delete,
                (false, false) => Action::Off,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_nspawn_without_resolved() {
        let yes = |_: &Path| true;
        let no = |_: &Path| false;
        let host = PathBuf::from("/etc/resolv.conf");
        assert_eq!(decide(ResolvConfMode::Auto, true, false, &yes), Action::Copy(host.clone()));
        assert_eq!(decide(ResolvConfMode::Auto, false, false, &yes), Action::Bind(host));
        assert_eq!(decide(ResolvConfMode::Auto, true, false, &no), Action::Delete);
        assert_eq!(decide(ResolvConfMode::Auto, false, false, &no), Action::Off);
        assert_eq!(decide(ResolvConfMode::Auto, true, true, &yes), Action::Off);
    }

    #[test]
    fn explicit_modes_name_their_source() {
        let yes = |_: &Path| true;
        assert_eq!(
            decide(ResolvConfMode::Copy(ResolvConfSource::Stub), true, false, &yes),
            Action::Copy("/run/systemd/resolve/stub-resolv.conf".into())
        );
        assert_eq!(
            decide(ResolvConfMode::Replace(ResolvConfSource::Static), false, false, &yes),
            Action::Replace("/usr/lib/systemd/resolv.conf".into())
        );
        assert_eq!(
            decide(ResolvConfMode::Bind(ResolvConfSource::Uplink), true, false, &yes),
            Action::Bind("/run/systemd/resolve/resolv.conf".into())
        );
        assert_eq!(decide(ResolvConfMode::Delete, false, false, &yes), Action::Delete);
        assert_eq!(decide(ResolvConfMode::Off, true, false, &yes), Action::Off);
    }
}
