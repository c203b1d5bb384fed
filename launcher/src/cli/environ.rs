//! nspawn's environment knobs (systemd's docs/ENVIRONMENT.md, `systemd-nspawn` section), read
//! after the command line, which wins where both say something. One table: what each does
//! here, or why it has nothing to do.

use crate::error::{Error, Result};
use crate::settings::{ApiVfsWritable, Settings};

/// One variable.
pub struct Knob {
    pub name: &'static str,
    /// What it does in spawnbox (docs/CLI.md repeats it).
    pub meaning: &'static str,
    pub apply: fn(&mut Settings, &str) -> Result<()>,
}

/// Every variable nspawn documents.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "SYSTEMD_NSPAWN_API_VFS_WRITABLE",
        meaning: "`1`: /sys and /proc/sys writable; `network`: only /proc/sys/net writable",
        apply: |s, v| {
            let w = match v {
                "network" => ApiVfsWritable::Network,
                _ if parse_bool(v)? => ApiVfsWritable::Yes,
                _ => ApiVfsWritable::No,
            };
            s.api_vfs_writable.get_or_insert(w);
            Ok(())
        },
    },
    Knob {
        name: "SYSTEMD_NSPAWN_TMPFS_TMP",
        meaning: "`0`: no tmpfs on /tmp, the tree's own /tmp stays",
        apply: |s, v| {
            s.tmpfs_tmp.get_or_insert(parse_bool(v)?);
            Ok(())
        },
    },
    Knob {
        name: "SYSTEMD_NSPAWN_CHECK_OS_RELEASE",
        meaning: "`0`: `-b` boots a tree without an os-release file",
        apply: |s, v| {
            s.check_os_release.get_or_insert(parse_bool(v)?);
            Ok(())
        },
    },
    Knob {
        name: "SYSTEMD_NSPAWN_LOCK",
        meaning: "`0`: the tree is not locked (spawnbox locks it with a user namespace, where two containers would re-own it)",
        apply: |s, v| {
            s.lock_tree.get_or_insert(parse_bool(v)?);
            Ok(())
        },
    },
    Knob {
        name: "SYSTEMD_SUPPRESS_SYNC",
        meaning: "`1`: as `--suppress-sync=yes`",
        apply: |s, v| {
            s.suppress_sync.get_or_insert(parse_bool(v)?);
            Ok(())
        },
    },
    Knob {
        name: "SYSTEMD_NSPAWN_USE_CGNS",
        meaning: "`1` (the default) only: spawnbox always gives the container a cgroup namespace; `0` is refused",
        apply: |_, v| match parse_bool(v)? {
            true => Ok(()),
            false => Err(Error::msg("not supported: spawnbox always gives the container a cgroup namespace")),
        },
    },
    Knob {
        name: "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY",
        meaning: "no effect: spawnbox only knows the unified hierarchy (cgroup v2)",
        apply: |_, v| parse_bool(v).map(drop),
    },
    Knob {
        name: "SYSTEMD_NSPAWN_CONTAINER_SERVICE",
        meaning: "no effect: it names nspawn's registration with machined, which spawnbox does not talk to",
        apply: |_, _| Ok(()),
    },
    Knob {
        name: "SYSTEMD_NSPAWN_NETWORK_MAC",
        meaning: "the MAC of the container's side of the veth (`host0`), six hex pairs with colons, instead of the one derived from the machine name",
        apply: |s, v| {
            let mac = parse_mac(v).ok_or_else(|| Error::msg("invalid MAC address"))?;
            s.network_mac.get_or_insert(mac);
            Ok(())
        },
    },
];

/// `12:34:56:78:90:AB` (six hex pairs, colons).
fn parse_mac(v: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = v.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// systemd's `parse_boolean()`.
fn parse_bool(v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        _ => Err(Error::msg("invalid boolean")),
    }
}

/// Applies the variables `getenv` knows to what the command line left unset.
pub fn apply(s: &mut Settings, getenv: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    for k in KNOBS {
        if let Some(v) = getenv(k.name) {
            (k.apply)(s, &v).map_err(|e| e.context(format!("${}={v}", k.name)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn knobs_fill_what_the_command_line_left() {
        let mut s = Settings::default();
        apply(
            &mut s,
            &env(&[
                ("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "network"),
                ("SYSTEMD_NSPAWN_TMPFS_TMP", "0"),
                ("SYSTEMD_NSPAWN_CHECK_OS_RELEASE", "no"),
                ("SYSTEMD_NSPAWN_LOCK", "false"),
                ("SYSTEMD_SUPPRESS_SYNC", "1"),
                ("SYSTEMD_NSPAWN_USE_CGNS", "1"),
                ("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1"),
                ("SYSTEMD_NSPAWN_CONTAINER_SERVICE", "mkosi"),
            ]),
        )
        .unwrap();
        assert_eq!(s.api_vfs_writable, Some(ApiVfsWritable::Network));
        assert_eq!(
            (s.tmpfs_tmp, s.check_os_release, s.lock_tree, s.suppress_sync),
            (Some(false), Some(false), Some(false), Some(true))
        );
        // The command line wins.
        let mut s = Settings { suppress_sync: Some(false), ..Default::default() };
        apply(&mut s, &env(&[("SYSTEMD_SUPPRESS_SYNC", "1"), ("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "yes")])).unwrap();
        assert_eq!((s.suppress_sync, s.api_vfs_writable), (Some(false), Some(ApiVfsWritable::Yes)));
    }

    #[test]
    fn docs_list_every_knob_with_its_meaning() {
        let doc = include_str!("../../../docs/CLI.md");
        for k in KNOBS {
            assert!(doc.contains(&format!("| `{}` | {} |", k.name, k.meaning)), "docs/CLI.md: {}", k.name);
        }
    }

    #[test]
    fn bad_values_and_what_is_not_supported_are_errors() {
        let err = |pairs: &'static [(&'static str, &'static str)]| {
            apply(&mut Settings::default(), &env(pairs)).unwrap_err().to_string()
        };
        assert_eq!(err(&[("SYSTEMD_NSPAWN_TMPFS_TMP", "maybe")]), "$SYSTEMD_NSPAWN_TMPFS_TMP=maybe: invalid boolean");
        assert_eq!(
            err(&[("SYSTEMD_NSPAWN_USE_CGNS", "0")]),
            "$SYSTEMD_NSPAWN_USE_CGNS=0: not supported: spawnbox always gives the container a cgroup namespace"
        );
        assert_eq!(
            err(&[("SYSTEMD_NSPAWN_NETWORK_MAC", "12:34:56:78:90")]),
            "$SYSTEMD_NSPAWN_NETWORK_MAC=12:34:56:78:90: invalid MAC address"
        );
        let mut s = Settings::default();
        apply(&mut s, &env(&[("SYSTEMD_NSPAWN_NETWORK_MAC", "12:34:56:78:90:AB")])).unwrap();
        assert_eq!(s.network_mac, Some([0x12, 0x34, 0x56, 0x78, 0x90, 0xab]));
    }
}
