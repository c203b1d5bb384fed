//! `/etc/resolv.conf` and `/etc/localtime` in the container, as the launcher decided them
//! (`resolv_conf.rs`, `timezone.rs`), installed by the child that fills the tree.

use crate::etc_files::{self, Install};
use crate::prepared::Prepared;
use crate::rootfs;
use crate::{resolv_conf, timezone};
use rustix::fd::BorrowedFd;
use std::path::Path;

/// `/etc/resolv.conf` and `/etc/localtime` as decided; a failure is a warning.
pub fn apply_etc_files(root: BorrowedFd<'_>, resolv: Install, tz: Install) {
    if let Err(e) = etc_files::apply(root, "resolv.conf", resolv) {
        log::warn!("--resolv-conf: {e}, ignoring");
    }
    if let Err(e) = etc_files::apply(root, "localtime", checked_zone(root, tz)) {
        log::warn!("--timezone: {e}, ignoring");
    }
}

pub fn resolv_install(prep: &Prepared) -> Install {
    match &prep.resolv {
        resolv_conf::Action::Off => Install::Off,
        resolv_conf::Action::Delete => Install::Delete,
        resolv_conf::Action::Copy(_) => prep.resolv_content.clone().map_or(Install::Off, Install::CopyThrough),
        resolv_conf::Action::Replace(_) => prep.resolv_content.clone().map_or(Install::Off, Install::Replace),
        resolv_conf::Action::Bind(p) => match etc_files::clone_host_file(p) {
            Ok(tree) => Install::Bind(tree),
            // nspawn falls back to a copy when the bind cannot be made.
            Err(_) => prep.resolv_content.clone().map_or(Install::Off, Install::CopyThrough),
        },
    }
}

pub fn timezone_install(prep: &Prepared) -> Install {
    match &prep.timezone {
        timezone::Action::Off => Install::Off,
        timezone::Action::Delete => Install::Delete,
        timezone::Action::Copy => prep.localtime_content.clone().map_or(Install::Off, Install::Replace),
        timezone::Action::Bind => match etc_files::clone_host_file(Path::new("/etc/localtime")) {
            Ok(tree) => Install::Bind(tree),
            Err(_) => prep.localtime_content.clone().map_or(Install::Off, Install::Replace),
        },
        timezone::Action::Symlink(zone) => Install::Symlink(zone.clone()),
    }
}

/// A symlink is only made to a zone the tree has (nspawn: "not creating symlink").
fn checked_zone(root: BorrowedFd<'_>, install: Install) -> Install {
    match install {
        Install::Symlink(zone) => {
            let file = Path::new("/usr/share/zoneinfo").join(&zone);
            if rootfs::is_regular_file(root, &file) {
                Install::Symlink(format!("../usr/share/zoneinfo/{zone}"))
            } else {
                log::warn!("timezone {zone} does not exist in the container, not creating symlink");
                Install::Off
            }
        }
        other => other,
    }
}
