//! Fuzzes import-oci's readers of an image's JSON files and the `NAME.nspawn` it writes:
//! `oci_image::layout::{check_layout_marker, parse_index, parse_manifest}`,
//! `oci_image::docker::parse_manifest_json`, `oci_image::config::parse`, then
//! `oci_image::nspawn::render` and `settings::file::parse` on what it wrote.
//!
//! Input: one JSON document (any bytes), given to every reader.
//!
//! Invariants:
//! 1. No reader panics; every error is one line and starts with the name it was given.
//! 2. Every digest a reader returns names a blob as `blobs/sha256/` and 64 lowercase hex
//!    digits (nothing else can reach a file name).
//! 3. When the config parses and `render` accepts it, the text parses back through the
//!    settings-file parser without error or warning, to exactly the image's command
//!    (`Entrypoint` then `Cmd`), its environment (the entries with a valid name, a later one
//!    replacing an earlier one of the same name), its user's name part (none for root) and its
//!    working directory (none for `/`); only unprivileged groups are set.
//! 4. When `render` refuses, the error is one line starting with `config`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::oci_image::{config, docker, layout, nspawn};
use spawnbox::settings::SettingsMask;
use std::path::Path;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\nalice:x:1000:\n";

fn one_line(e: &spawnbox::error::Error, prefix: &str) {
    let s = e.to_string();
    assert!(!s.contains('\n') && s.starts_with(prefix), "{s:?}");
}

fn check_blob(d: &spawnbox::oci_image::digest::Digest) {
    let p = d.blob_path();
    let hex = p.strip_prefix("blobs/sha256/").expect("blob path");
    assert!(hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{p}");
}

fn env_name_ok(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = layout::check_layout_marker(data) {
        one_line(&e, "oci-layout: ");
    }
    match layout::parse_index(data, "index.json") {
        Ok(entries) => entries.iter().for_each(|d| check_blob(&d.digest)),
        Err(e) => one_line(&e, "index.json: "),
    }
    match layout::parse_manifest(data, "manifest") {
        Ok(m) => m.layers.iter().chain(std::iter::once(&m.config)).for_each(|d| check_blob(&d.digest)),
        Err(e) => one_line(&e, "manifest: "),
    }
    match docker::parse_manifest_json(data) {
        Ok(i) => {
            check_blob(&i.config_digest);
            for p in i.layers.iter().chain(std::iter::once(&i.config)) {
                assert!(p.split('/').all(|c| !c.is_empty() && c != "." && c != ".."), "{p}");
            }
        }
        Err(e) => one_line(&e, "manifest.json: "),
    }
    let c = match config::parse(data, "config") {
        Ok(c) => c,
        Err(e) => return one_line(&e, "config: "),
    };
    c.diff_ids.iter().for_each(check_blob);
    let users = nspawn::Users { passwd: PASSWD, group: GROUP };
    let r = match nspawn::render(&c, users, "fuzz") {
        Ok(r) => r,
        Err(e) => return one_line(&e, "config"),
    };
    let parsed = spawnbox::settings::file::parse(Path::new("/var/lib/machines/f.nspawn"), r.text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}\n{}", r.text));
    assert!(parsed.warnings.is_empty(), "{:?}\n{}", parsed.warnings, r.text);
    let s = parsed.settings;
    let argv: Vec<&String> = c.entrypoint.iter().chain(&c.cmd).collect();
    let params: Vec<String> = s.parameters.iter().map(|p| p.to_str().expect("UTF-8").to_string()).collect();
    assert_eq!(params.iter().collect::<Vec<_>>(), argv, "{}", r.text);
    let mut env: Vec<String> = Vec::new();
    for e in &c.env {
        let Some((name, _)) = e.split_once('=') else { continue };
        if !env_name_ok(name) {
            continue;
        }
        match env.iter_mut().find(|x| x.starts_with(&format!("{name}="))) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    assert_eq!(s.setenv, env, "{}", r.text);
    let user = c.user.as_deref().filter(|u| !u.is_empty()).map(|u| u.split(':').next().unwrap_or(u));
    let want_user = user.filter(|u| *u != "root" && *u != "0");
    assert_eq!(s.user.as_deref(), want_user, "{}", r.text);
    // The working directory, simplified as the settings parser does (the components of
    // both, since `..` is refused); none for `/`.
    let dir = c.working_dir.as_deref().filter(|d| !d.is_empty());
    let root = |d: &str| d.split('/').all(|c| c.is_empty() || c == ".");
    assert_eq!(s.chdir.is_some(), dir.is_some_and(|d| !root(d)), "{}", r.text);
    if let (Some(got), Some(d)) = (&s.chdir, dir) {
        assert!(got.components().eq(Path::new(d).components()), "{got:?} for {d:?}\n{}", r.text);
    }
    assert!(!s.given.intersects(SettingsMask::PRIVILEGED), "{:?}", s.given);
});
