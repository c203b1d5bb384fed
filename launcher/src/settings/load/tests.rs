//! The precedence of the command line, trusted, untrusted and spawnbox files, as data.

use super::*;
use crate::settings::file::Location::{Image, Spawnbox, Systemd};
use std::ffi::OsString;

fn cli(args: &[&str]) -> Settings {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    match crate::cli::parse(&args, &|_| None, Path::new("/w")) {
        Ok(crate::cli::Parsed::Run(s)) => s,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn at(location: Location) -> Found {
    let path = match location {
        Spawnbox => "/etc/spawnbox/web.nspawn",
        Systemd => "/etc/systemd/nspawn/web.nspawn",
        Image => "/var/lib/machines/web.nspawn",
    };
    Found { path: path.into(), location }
}

/// An unprivileged key, a privileged one and an extension.
const FILE: &str = "[Exec]\nHostname=from-file\n[Network]\nPrivate=yes\nNAT=yes\n";

#[test]
fn precedence() {
    // (command line, where the file is, hostname, private network, NAT, warnings)
    type Row = (&'static [&'static str], Location, Option<&'static str>, bool, Option<bool>, usize);
    let table: &[Row] = &[
        (&[], Spawnbox, Some("from-file"), true, Some(true), 0),
        (&[], Systemd, Some("from-file"), true, None, 1),
        (&[], Image, Some("from-file"), false, None, 2),
        (&["--settings=yes"], Image, Some("from-file"), false, None, 2),
        (&["--settings=trusted"], Image, Some("from-file"), true, None, 1),
        (&["--settings=trusted"], Spawnbox, Some("from-file"), true, Some(true), 0),
        (&["--hostname=cli"], Systemd, Some("cli"), true, None, 1),
        (&["--hostname=cli", "--network-nat=no"], Spawnbox, Some("cli"), true, Some(false), 0),
        (&["--settings=override", "--hostname=cli"], Systemd, Some("from-file"), true, None, 1),
        (&["--settings=override", "--network-nat=no"], Spawnbox, Some("from-file"), true, Some(true), 0),
        (&["--settings=no"], Spawnbox, None, false, None, 0),
        (&["-n"], Image, Some("from-file"), true, None, 1),
    ];
    for (args, location, hostname, private, nat, warnings) in table {
        let l = apply(cli(args), &at(*location), FILE.as_bytes()).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let s = &l.settings;
        let got = (s.hostname.as_deref(), s.private_network, s.network_nat, l.warnings.len());
        assert_eq!(
            got,
            (*hostname, *private, *nat, *warnings),
            "{args:?} with a file in {location:?}: {:?}",
            l.warnings
        );
        assert_eq!(l.file.as_deref(), Some(at(*location).path.as_path()));
    }
}

#[test]
fn warnings_in_nspawns_words_once_each() {
    let text = "[Exec]\nBootable=yes\nCapability=CAP_NET_ADMIN\n[Network]\nPort=80\nPort=81\nNAT=yes\n";
    let l = apply(cli(&[]), &at(Image), text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let f = "/var/lib/machines/web.nspawn";
    assert_eq!(
        l.warnings,
        [
            format!("{f}:2: [Exec] Bootable=: unknown key, ignoring"),
            format!("Ignoring Capability= setting, file {f} is not trusted."),
            format!("Ignoring Port= setting, file {f} is not trusted."),
            format!("Ignoring NAT= and Address= settings in file {f}: spawnbox reads its own keys only from files in /etc/spawnbox and /run/spawnbox."),
        ]
    );
    assert_eq!(l.settings.capability, 0);
    assert!(l.settings.ports.is_empty());
}

#[test]
fn errors() {
    let err = |args: &[&str], location, text: &str| match apply(cli(args), &at(location), text.as_bytes()) {
        Ok(l) => panic!("{text:?}: no error: {:?}", l.settings),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        err(&[], Systemd, "[Exec]\n\nBoot=maybe\n"),
        "/etc/systemd/nspawn/web.nspawn:3: [Exec] Boot=: invalid boolean"
    );
    assert_eq!(
        err(&[], Systemd, "[Exec]\nPrivateUsers=managed\n"),
        "/etc/systemd/nspawn/web.nspawn: PrivateUsers=managed: not supported yet"
    );
    // Not used, so not an error: untrusted, or the command line's.
    for (args, location) in [(&[][..], Image), (&["-U"][..], Systemd)] {
        let l = apply(cli(args), &at(location), b"[Exec]\nPrivateUsers=managed\n");
        assert!(l.is_ok(), "{args:?} {location:?}");
    }
}

#[test]
fn reading() {
    let dir = std::env::temp_dir().join(format!("spawnbox-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let big = dir.join("big.nspawn");
    std::fs::write(&big, vec![b'#'; (MAX_SIZE + 1) as usize]).unwrap_or_else(|e| panic!("{e}"));
    let e = read(&big).map(|_| ()).unwrap_err().to_string();
    assert_eq!(e, format!("{}: larger than 1 MiB, not a settings file", big.display()));
    let e = read(&dir).map(|_| ()).unwrap_err().to_string();
    assert_eq!(e, format!("{}: not a regular file", dir.display()));
    let e = read(&dir.join("missing")).map(|_| ()).unwrap_err().to_string();
    assert_eq!(e, format!("open {}: no such file or directory", dir.join("missing").display()));
    std::fs::write(&big, b"[Exec]\nBoot=yes\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&big).ok().as_deref(), Some(&b"[Exec]\nBoot=yes\n"[..]));
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}
