//! `--timezone=`: how the host's `/etc/localtime` reaches the container (nspawn's
//! `setup_timezone()`).

use crate::settings::TimezoneMode;

/// What the host's `/etc/localtime` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostZone {
    /// A symlink into `/usr/share/zoneinfo/`: the zone name (`Europe/Berlin`).
    Zone(String),
    /// A regular file (or a symlink elsewhere).
    File,
    Missing,
}

/// The decision for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Off,
    Copy,
    Bind,
    /// `/etc/localtime -> ../usr/share/zoneinfo/ZONE`, if the zone exists in the tree.
    Symlink(String),
    Delete,
}

/// Reads the zone name out of a localtime symlink target.
pub fn zone_of_link(target: &str) -> Option<String> {
    let (_, zone) = target.split_once("/usr/share/zoneinfo/")?;
    (!zone.is_empty()).then(|| zone.to_string())
}

/// Resolves `mode`; `writable` is false with `--read-only`.
pub fn decide(mode: TimezoneMode, writable: bool, host: &HostZone) -> Action {
    match (mode, host) {
        (TimezoneMode::Off, _) => Action::Off,
        (TimezoneMode::Delete, _) => Action::Delete,
        (TimezoneMode::Copy | TimezoneMode::Bind, HostZone::Missing) => Action::Off,
        (TimezoneMode::Copy, _) => Action::Copy,
        (TimezoneMode::Bind, _) => Action::Bind,
        (TimezoneMode::Symlink, HostZone::Zone(z)) => Action::Symlink(z.clone()),
        (TimezoneMode::Symlink, _) => Action::Off,
        (TimezoneMode::Auto, HostZone::Zone(z)) if writable => Action::Symlink(z.clone()),
        (TimezoneMode::Auto, HostZone::Zone(_)) => Action::Bind,
        (TimezoneMode::Auto, HostZone::File) if writable => Action::Copy,
        (TimezoneMode::Auto, HostZone::File) => Action::Bind,
        (TimezoneMode::Auto, HostZone::Missing) if writable => Action::Delete,
        (TimezoneMode::Auto, HostZone::Missing) => Action::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names() {
        assert_eq!(zone_of_link("/usr/share/zoneinfo/Etc/UTC"), Some("Etc/UTC".into()));
        assert_eq!(zone_of_link("../usr/share/zoneinfo/Europe/Berlin"), Some("Europe/Berlin".into()));
        assert_eq!(zone_of_link("/etc/zoneinfo"), None);
    }

    #[test]
    fn auto_matrix() {
        let z = HostZone::Zone("Etc/UTC".into());
        assert_eq!(decide(TimezoneMode::Auto, true, &z), Action::Symlink("Etc/UTC".into()));
        assert_eq!(decide(TimezoneMode::Auto, false, &z), Action::Bind);
        assert_eq!(decide(TimezoneMode::Auto, true, &HostZone::File), Action::Copy);
        assert_eq!(decide(TimezoneMode::Auto, false, &HostZone::File), Action::Bind);
        assert_eq!(decide(TimezoneMode::Auto, true, &HostZone::Missing), Action::Delete);
        assert_eq!(decide(TimezoneMode::Auto, false, &HostZone::Missing), Action::Off);
    }

    #[test]
    fn explicit_modes() {
        assert_eq!(decide(TimezoneMode::Symlink, true, &HostZone::File), Action::Off);
        assert_eq!(decide(TimezoneMode::Copy, true, &HostZone::Missing), Action::Off);
        assert_eq!(decide(TimezoneMode::Bind, true, &HostZone::Zone("X".into())), Action::Bind);
        assert_eq!(decide(TimezoneMode::Delete, false, &HostZone::File), Action::Delete);
    }
}
