//! packaging/alpine/APKBUILD against the repository: its version is the workspace's, its
//! source is the tarball `make dist` writes (with the tree under `$pkgname-$pkgver/`), it
//! builds with `make` and packages with `make install DESTDIR="$pkgdir" PREFIX=/usr`, and the
//! paths its subpackages take are what that install really puts there, every file in exactly
//! one package. `make dist` and `make install` run for real, into temp dirs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temp dir, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        let p = std::env::temp_dir().join(format!("spawnbox-packaging-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The APKBUILD: its top-level variables (`$pkgname`, `$pkgver`, `$pkgrel` expanded) and its
/// functions' bodies.
struct Apkbuild {
    vars: BTreeMap<String, String>,
    functions: BTreeMap<String, Vec<String>>,
}

fn parse_apkbuild(text: &str) -> Apkbuild {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut functions = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_suffix("() {") {
            let body: Vec<String> = lines.by_ref().take_while(|l| *l != "}").map(|l| l.trim().to_string()).collect();
            functions.insert(name.to_string(), body);
            continue;
        }
        if line.starts_with('#') || line.starts_with(char::is_whitespace) {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let mut v = v.trim_matches('"').to_string();
            for (name, value) in vars.iter() {
                v = v.replace(&format!("${name}"), value);
            }
            vars.insert(k.to_string(), v);
        }
    }
    Apkbuild { vars, functions }
}

fn workspace_version() -> String {
    let toml = std::fs::read_to_string(spawnbox_tests::workspace().join("Cargo.toml")).unwrap();
    let section = toml.split("[workspace.package]").nth(1).expect("[workspace.package]");
    let line = section.lines().find(|l| l.starts_with("version")).expect("version =");
    line.split('"').nth(1).unwrap().to_string()
}

fn make(args: &[&str]) {
    let out = Command::new("make").arg("-C").arg(spawnbox_tests::workspace()).args(args).output().expect("run make");
    assert!(
        out.status.success(),
        "make {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file and symlink below `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn apkbuild() -> Apkbuild {
    parse_apkbuild(&std::fs::read_to_string(spawnbox_tests::workspace().join("packaging/alpine/APKBUILD")).unwrap())
}

#[test]
fn apkbuild_version_source_and_steps() {
    let a = apkbuild();
    let v = |k: &str| a.vars.get(k).unwrap_or_else(|| panic!("no {k}= in the APKBUILD")).as_str();
    assert_eq!(v("pkgname"), "spawnbox");
    assert_eq!(v("pkgver"), workspace_version());
    assert_eq!(v("pkgrel"), "0");
    assert_eq!(v("license"), "LGPL-2.1-or-later");
    assert_eq!(v("subpackages"), "spawnbox-doc spawnbox-openrc");
    assert_eq!(v("source"), format!("spawnbox-{}.tar.gz", workspace_version()));
    for tool in ["cargo", "scdoc", "file", "bash"] {
        assert!(v("makedepends").split(' ').any(|d| d == tool), "makedepends lacks {tool}");
    }
    let body = |f: &str| a.functions.get(f).unwrap_or_else(|| panic!("no {f}() in the APKBUILD")).clone();
    assert!(body("build").contains(&"make".to_string()), "{:?}", body("build"));
    assert_eq!(body("package"), ["make install DESTDIR=\"$pkgdir\" PREFIX=/usr"]);

    // The source: what `make dist` writes, the tree under $pkgname-$pkgver/ (abuild's builddir).
    let t = Temp::new("dist");
    make(&["-s", "dist", &format!("BUILD={}", t.0.display())]);
    let tarball = t.0.join(v("source"));
    let out = Command::new("tar").arg("tzf").arg(&tarball).output().unwrap();
    assert!(out.status.success(), "tar tzf {}: {out:?}", tarball.display());
    let listing = String::from_utf8(out.stdout).unwrap();
    let prefix = format!("spawnbox-{}/", workspace_version());
    assert!(listing.lines().all(|l| l.starts_with(&prefix)), "{listing}");
    for f in [
        "Makefile",
        "Cargo.lock",
        "packaging/alpine/APKBUILD",
        "packaging/openrc/spawnbox.initd",
        "docs/man/spawnctl.1.scd",
    ] {
        assert!(listing.lines().any(|l| l == format!("{prefix}{f}")), "{f} is not in the tarball");
    }
}

#[test]
fn apkbuild_packages_take_what_make_install_installs() {
    let a = apkbuild();
    let t = Temp::new("install");
    make(&["-s", "install", &format!("DESTDIR={}", t.0.display()), "PREFIX=/usr"]);
    let installed = files(&t.0);
    // What each subpackage takes: its `amove` paths; default_doc takes the man pages.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for sub in a.vars["subpackages"].split(' ') {
        let f = sub.strip_prefix("spawnbox-").unwrap();
        let body = a.functions.get(f).unwrap_or_else(|| panic!("no {f}() for {sub}"));
        for line in body {
            let paths: Vec<&str> = match line.split_once(' ') {
                Some(("amove", rest)) => rest.split(' ').collect(),
                _ if line == "default_doc" => vec!["usr/share/man"],
                _ => continue,
            };
            for p in paths {
                assert!(t.0.join(p).exists(), "{sub} takes {p}, which make install does not install");
                owner.insert(p.to_string(), sub.to_string());
            }
        }
    }
    let mut packages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &installed {
        let pkg = owner.iter().find(|(p, _)| f.starts_with(&format!("{p}/"))).map_or("spawnbox", |(_, s)| s.as_str());
        packages.entry(pkg.to_string()).or_default().push(f.clone());
    }
    let man: Vec<String> = ["spawnbox-init.8", "spawnbox.1", "spawnbox.nspawn.5", "spawnctl.1"]
        .iter()
        .map(|p| format!("usr/share/man/man{}/{p}", p.rsplit('.').next().unwrap()))
        .collect();
    let mut doc = vec![
        "usr/share/bash-completion/completions/spawnbox".to_string(),
        "usr/share/bash-completion/completions/spawnctl".to_string(),
    ];
    doc.extend(man);
    doc.extend([
        "usr/share/zsh/site-functions/_spawnbox".to_string(),
        "usr/share/zsh/site-functions/_spawnctl".to_string(),
    ]);
    doc.sort();
    assert_eq!(
        packages,
        BTreeMap::from([
            (
                "spawnbox".to_string(),
                vec![
                    "usr/bin/spawnbox".into(),
                    "usr/bin/spawnbox-runc".into(),
                    "usr/bin/spawnctl".into(),
                    "usr/sbin/spawnbox-init".into()
                ]
            ),
            ("spawnbox-doc".to_string(), doc),
            ("spawnbox-openrc".to_string(), vec!["etc/conf.d/spawnbox".into(), "etc/init.d/spawnbox".into()]),
        ])
    );
    // The OpenRC script runs the installed binary; spawnctl is a link to it.
    let script = std::fs::read_to_string(t.0.join("etc/init.d/spawnbox")).unwrap();
    assert!(script.lines().any(|l| l == "command=\"/usr/bin/spawnbox\""), "{script}");
    assert!(!script.contains("@BINDIR@"));
    assert_eq!(std::fs::read_link(t.0.join("usr/bin/spawnctl")).unwrap(), Path::new("spawnbox"));
    assert_eq!(std::fs::read_link(t.0.join("usr/bin/spawnbox-runc")).unwrap(), Path::new("spawnbox"));
}
