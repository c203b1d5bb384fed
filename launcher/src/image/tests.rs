//! The image search on a fake file system.

use super::*;
use std::collections::BTreeMap;

/// Paths and what they are; `ro` marks immutable ones.
struct Fake {
    entries: BTreeMap<&'static str, Kind>,
    ro: Vec<&'static str>,
}

impl Fake {
    fn new(entries: &[(&'static str, Kind)]) -> Fake {
        Fake { entries: entries.iter().copied().collect(), ro: Vec::new() }
    }
}

impl Probe for Fake {
    fn kind(&self, path: &Path) -> Option<Kind> {
        self.entries.iter().find(|(p, _)| Path::new(p) == path).map(|(_, k)| *k)
    }
    fn marked_read_only(&self, path: &Path) -> bool {
        self.ro.iter().any(|p| Path::new(p) == path)
    }
    fn names(&self, dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = self
            .entries
            .keys()
            .filter_map(|p| Path::new(p).strip_prefix(dir).ok())
            .filter(|rest| rest.components().count() == 1)
            .map(|rest| rest.to_string_lossy().into_owned())
            .collect();
        names.reverse(); // the order of readdir is not sorted
        names
    }
}

use Kind::{Directory as D, Raw as R, Subvolume as S};

fn image(name: &str, path: &str, kind: Kind, read_only: bool) -> Option<Image> {
    Some(Image { name: name.into(), path: path.into(), kind, read_only })
}

#[test]
fn search_order() {
    let fs = Fake::new(&[
        ("/usr/lib/machines/web", D),
        ("/var/lib/machines/web", S),
        ("/run/machines/web.raw", R),
        ("/usr/lib/machines/db", D),
        ("/var/lib/machines/db.raw", R),
    ]);
    // /run/machines comes before /var/lib/machines: its raw image wins.
    assert_eq!(find("web", &fs), image("web", "/run/machines/web.raw", R, false));
    // Images below /usr are read-only.
    assert_eq!(find("db", &fs), image("db", "/var/lib/machines/db.raw", R, false));
    let fs = Fake::new(&[("/usr/lib/machines/db", D), ("/usr/local/lib/machines/db", D)]);
    assert_eq!(find("db", &fs), image("db", "/usr/local/lib/machines/db", D, true));
    // In one directory, the tree comes before the raw file.
    let fs = Fake::new(&[("/var/lib/machines/a.raw", R), ("/var/lib/machines/a", D)]);
    assert_eq!(find("a", &fs), image("a", "/var/lib/machines/a", D, false));
}

#[test]
fn wrong_kinds_are_not_images() {
    // A file without .raw, or a directory named .raw.
    let fs = Fake::new(&[("/var/lib/machines/a", R), ("/var/lib/machines/b.raw", D)]);
    assert_eq!(find("a", &fs), None);
    assert_eq!(find("b", &fs), None);
    // ... but a directory may be named so.
    assert_eq!(find("b.raw", &fs), image("b.raw", "/var/lib/machines/b.raw", D, false));
}

#[test]
fn marked_read_only() {
    let mut fs = Fake::new(&[("/var/lib/machines/a", D)]);
    fs.ro.push("/var/lib/machines/a");
    assert_eq!(find("a", &fs), image("a", "/var/lib/machines/a", D, true));
}

#[test]
fn names() {
    for ok in ["web", "Web-1.2_x", "a b", "ü", ".hidden", &"x".repeat(255)] {
        assert!(name_is_valid(ok), "{ok:?}");
    }
    for bad in ["", ".", "..", "a/b", "/a", ".#tmp", "a\nb", "a\tb", &"x".repeat(256)] {
        assert!(!name_is_valid(bad), "{bad:?}");
        let fs = Fake::new(&[("/var/lib/machines/a/b", D), ("/var/lib/machines", D)]);
        assert_eq!(find(bad, &fs), None, "{bad:?}");
    }
}

#[test]
fn listing() {
    let fs = Fake::new(&[
        ("/var/lib/machines/web", D),
        ("/var/lib/machines/.#web.tmp", D),
        ("/var/lib/machines/.hidden", D),
        ("/var/lib/machines/notes.txt", R),
        ("/var/lib/machines/disk.raw", R),
        ("/run/machines/web", D),
        ("/usr/lib/machines/base", D),
    ]);
    let got: Vec<(String, String, Kind, bool)> =
        list(&fs, false).into_iter().map(|i| (i.name, i.path.display().to_string(), i.kind, i.read_only)).collect();
    let want = [
        ("base", "/usr/lib/machines/base", D, true),
        ("disk", "/var/lib/machines/disk.raw", R, false),
        ("web", "/run/machines/web", D, false),
    ];
    let want: Vec<(String, String, Kind, bool)> =
        want.iter().map(|(n, p, k, r)| (n.to_string(), p.to_string(), *k, *r)).collect();
    assert_eq!(got, want);
    let all: Vec<String> = list(&fs, true).into_iter().map(|i| i.name).collect();
    assert_eq!(all, [".hidden", "base", "disk", "web"]);
}

#[test]
fn locate_for_dash_m() {
    let fs = Fake::new(&[("/usr/lib/machines/base", D), ("/var/lib/machines/disk.raw", R)]);
    let m = |name: &str| Settings { machine: Some(name.into()), ..Settings::default() };
    let mut s = m("base");
    assert!(locate(&mut s, &fs).is_ok());
    assert_eq!((s.directory.as_deref(), s.read_only), (Some(Path::new("/usr/lib/machines/base")), true));
    // -x runs a read-only image writable (on its snapshot).
    let mut s = Settings { ephemeral: true, ..m("base") };
    assert!(locate(&mut s, &fs).is_ok());
    assert!(!s.read_only);
    // -D, -i or --oci-bundle beat -M.
    for mut s in [
        Settings { directory: Some("/srv/x".into()), ..m("base") },
        Settings { image: Some("/srv/x.raw".into()), ..m("base") },
        Settings { oci_bundle: Some("/srv/b".into()), ..m("base") },
        Settings::default(),
    ] {
        let before = s.clone();
        assert!(locate(&mut s, &fs).is_ok());
        assert_eq!(s, before);
    }
    // With --template, a missing image is made (spec::root_directory names it).
    let mut s = Settings { template: Some("/srv/t".into()), ..m("new") };
    assert!(locate(&mut s, &fs).is_ok());
    assert_eq!(s.directory, None);
    let err = |name: &str| locate(&mut m(name), &fs).map(|_| ()).unwrap_err().to_string();
    assert_eq!(err("disk"), "--machine=disk: /var/lib/machines/disk.raw: raw images are not supported yet");
    assert_eq!(
        err("nope"),
        "--machine=nope: no image named nope in /etc/machines, /run/machines, /var/lib/machines, \
         /var/lib/container, /usr/local/lib/machines, /usr/lib/machines\nhint: -D DIR runs a directory kept elsewhere"
    );
}
