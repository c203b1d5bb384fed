//! `--bind-user=`, `--bind-user-shell=`, `--bind-user-group=` integration tests (root): real host
//! users, added to the host's `/etc/passwd`, `/etc/group` and `/etc/shadow` for one test and
//! removed after it (the files byte for byte as before, also when the test fails), bound into
//! busybox guests and the Debian guest. What the container sees is read from inside: `id`, the
//! passwd/group lines, the home's ownership, the uid_map split, the userdb records; the guest
//! tree on disk must be unchanged afterwards.

use spawnbox_tests::{Output, Test};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The first UID nspawn gives a bound user.
const FIRST: u32 = 60514;

/// The host databases a test edits, with what they held before.
const DATABASES: [&str; 3] = ["/etc/passwd", "/etc/group", "/etc/shadow"];

/// Tests add users one test at a time (they edit the same files).
static HOST_DB: Mutex<()> = Mutex::new(());

/// Users added to the host for one test: a line each in passwd, group (a private group) and
/// shadow, appended. Dropping it removes exactly those lines and checks every file is as it was.
struct HostUsers {
    before: Vec<(PathBuf, Vec<u8>)>,
    added: Vec<(PathBuf, String)>,
    _lock: MutexGuard<'static, ()>,
}

/// A user of [`HostUsers`].
struct HostUser {
    name: String,
    uid: u32,
    home: PathBuf,
}

impl HostUsers {
    fn new() -> HostUsers {
        let lock = HOST_DB.lock().unwrap_or_else(|e| e.into_inner());
        let before = DATABASES.iter().map(|p| (PathBuf::from(p), fs::read(p).unwrap())).collect();
        HostUsers { before, added: Vec::new(), _lock: lock }
    }

    /// Adds user `sbx-TAG-PID` with a free id, home `home` (created, owned by it, with a file
    /// `from-host` in it, unless `make_home` is false) and `shell`.
    fn add(&mut self, tag: &str, home: &Path, shell: &str, make_home: bool) -> HostUser {
        let name = format!("sbx-{tag}-{}", std::process::id());
        assert!(name.len() <= 31, "{name} is too long for a user name");
        let uid = free_id();
        if make_home {
            fs::create_dir_all(home).unwrap();
            fs::write(home.join("from-host"), "made on the host\n").unwrap();
            for p in [home.to_path_buf(), home.join("from-host")] {
                std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
            }
            fs::set_permissions(home, fs::Permissions::from_mode(0o750)).unwrap();
        }
        let lines = [
            ("/etc/passwd", format!("{name}:x:{uid}:{uid}:Test User:{}:{shell}\n", home.display())),
            ("/etc/group", format!("{name}:x:{uid}:\n")),
            ("/etc/shadow", format!("{name}:$y$j9T$sbxsalt$sbxhash:20000:0:99999:7:::\n")),
        ];
        for (p, line) in lines {
            let mut text = fs::read(p).unwrap();
            if !text.is_empty() && !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            text.extend_from_slice(line.as_bytes());
            fs::write(p, text).unwrap();
            self.added.push((PathBuf::from(p), line));
        }
        HostUser { name, uid, home: home.to_path_buf() }
    }
}

impl Drop for HostUsers {
    fn drop(&mut self) {
        for (p, line) in &self.added {
            let text = fs::read_to_string(p).unwrap_or_default();
            let kept: String = text.split_inclusive('\n').filter(|l| l != line).collect();
            let _ = fs::write(p, kept);
        }
        let mut changed = Vec::new();
        for (p, before) in &self.before {
            if fs::read(p).ok().as_ref() != Some(before) {
                // Put it back as it was (another writer would lose its change; we report it).
                let _ = fs::write(p, before);
                changed.push(p.display().to_string());
            }
        }
        if !std::thread::panicking() {
            assert!(changed.is_empty(), "host databases not restored byte for byte: {changed:?}");
        }
    }
}

/// An id no host user or group has (as uid or gid), from 47000 up.
fn free_id() -> u32 {
    let used: Vec<u32> = ["/etc/passwd", "/etc/group"]
        .iter()
        .flat_map(|p| {
            fs::read_to_string(p).unwrap().lines().filter_map(|l| l.split(':').nth(2)?.parse().ok()).collect::<Vec<_>>()
        })
        .collect();
    (47000..60000).find(|i| !used.contains(i)).unwrap()
}

/// A host user bound in test `t` (home in the test's temp dir), with `shell` as its host shell.
fn user(users: &mut HostUsers, t: &Test, tag: &str, shell: &str) -> HostUser {
    users.add(tag, &t.path(&format!("home-{tag}")), shell, true)
}

fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (m.uid(), m.gid())
}

/// The guest's passwd and group files as they are on disk.
fn guest_dbs(t: &Test) -> (Vec<u8>, Vec<u8>) {
    (fs::read(t.rpath("/etc/passwd")).unwrap(), fs::read(t.rpath("/etc/group")).unwrap())
}

/// The base of ` 0 BASE SIZE` (the first uid_map line, as `tr -s ' '` prints it).
fn base_of(map: &str) -> u32 {
    map.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn bind(u: &HostUser) -> String {
    format!("--bind-user={}", u.name)
}

#[test]
fn binds_a_host_user_into_a_busybox_guest() {
    let t = Test::new("bu-basic");
    let mut users = HostUsers::new();
    let u = user(&mut users, &t, "basic", "/bin/sh");
    let n = &u.name;
    let dbs = guest_dbs(&t);
    let script = format!(
        "id {n}; grep -h '^{n}:' /etc/passwd /etc/group; \
         stat -c '%u %g %a' /run/host/home/{n} /run/host/home/{n}/from-host; cat /run/host/home/{n}/from-host; \
         su {n} -c 'id -u; echo made inside > /run/host/home/{n}/from-guest'; \
         tr -s ' ' < /proc/self/uid_map; tr -s ' ' < /proc/self/gid_map; \
         cd /run/host/userdb; for f in *; do echo \"$f $(stat -c %a $f) $(readlink $f)\"; done; \
         cat {n}.user {n}.group {n}.user-privileged; \
         grep ' /etc/passwd ' /proc/self/mountinfo | cut -d' ' -f6; \
         if (echo x >> /etc/passwd) 2>/dev/null; then echo writable; else echo read-only; fi"
    );
    let out = t.sh(&["-U", &bind(&u)], &script).ok().to_string();
    let mut lines = out.lines();
    let mut next = || lines.next().unwrap_or_else(|| panic!("output ended early: {out}")).to_string();
    assert_eq!(next(), format!("uid={FIRST}({n}) gid={FIRST}({n}) groups={FIRST}({n})"));
    assert_eq!(next(), format!("{n}:!*:{FIRST}:{FIRST}:{n}:/run/host/home/{n}:"));
    assert_eq!(next(), format!("{n}:x:{FIRST}:"));
    assert_eq!(next(), format!("{FIRST} {FIRST} 750"));
    assert_eq!(next(), format!("{FIRST} {FIRST} 644"));
    assert_eq!(next(), "made on the host");
    assert_eq!(next(), FIRST.to_string());
    // The range split around the host user, as nspawn's make_uid_map_string().
    let uid_map = next();
    let base = base_of(&uid_map);
    let split = [
        format!(" 0 {base} {FIRST}"),
        format!(" {FIRST} {} 1", u.uid),
        format!(" {} {} {}", FIRST + 1, base + FIRST + 1, 65536 - FIRST - 1),
    ];
    assert_eq!([uid_map, next(), next()], split);
    assert_eq!([next(), next(), next()], split);
    let entries: Vec<String> = (0..6).map(|_| next()).collect();
    assert_eq!(
        entries,
        [
            format!("{FIRST}.group 777 {n}.group"),
            format!("{FIRST}.user 777 {n}.user"),
            format!("{FIRST}.user-privileged 777 {n}.user-privileged"),
            format!("{n}.group 644 "),
            format!("{n}.user 644 "),
            format!("{n}.user-privileged 600 "),
        ]
    );
    assert_eq!(
        next(),
        format!(
            "{{\"userName\":\"{n}\",\"uid\":{FIRST},\"gid\":{FIRST},\"homeDirectory\":\"/run/host/home/{n}\",\"service\":\"io.systemd.NSpawn\"}}"
        )
    );
    assert_eq!(next(), format!("{{\"groupName\":\"{n}\",\"gid\":{FIRST},\"service\":\"io.systemd.NSpawn\"}}"));
    assert_eq!(next(), "{\"privileged\":{\"hashedPassword\":[\"$y$j9T$sbxsalt$sbxhash\"]}}");
    assert_eq!(next(), "ro,nosuid,nodev");
    assert_eq!(next(), "read-only");
    assert_eq!(lines.next(), None);
    // What the user made inside is the host user's on the host; the tree is untouched.
    assert_eq!(owner(&u.home.join("from-guest")), (u.uid, u.uid));
    assert_eq!(fs::read_to_string(u.home.join("from-guest")).unwrap(), "made inside\n");
    assert_eq!(guest_dbs(&t), dbs);
    assert!(!t.rpath("/run/host").exists());
}

#[test]
fn needs_a_user_namespace_and_a_known_user() {
    let t = Test::new("bu-refuse");
    t.run(&["--bind-user=someone", "/bin/true"]).error("--bind-user= requires --private-users");
    t.run(&["--private-users=no", "--bind-user=someone", "/bin/true"]).error("--bind-user= requires --private-users");
    let name = format!("sbx-nosuch-{}", std::process::id());
    t.run(&["-U", &format!("--bind-user={name}"), "/bin/true"])
        .error(&format!("--bind-user={name}: no such user in the host's /etc/passwd"));
    t.run(&["-U", "--bind-user=root", "/bin/true"]).error("--bind-user=root: mapping the root user is not supported");

    let mut users = HostUsers::new();
    let gone = t.path("home-gone");
    let u = users.add("gone", &gone, "/bin/sh", false);
    t.run(&["-U", &bind(&u), "/bin/true"]).error(&format!(
        "--bind-user={}: stat {}: no such file or directory",
        u.name,
        gone.display()
    ));
    // identity maps host ids below 65536 already: the host user's would be mapped twice.
    let v = user(&mut users, &t, "ident", "/bin/sh");
    t.run(&["--private-users=identity", &bind(&v), "/bin/true"]).error(&format!(
        "--bind-user={n}: UID {id} of {n} is already in the container's UID range (0 - 65536), refusing",
        n = v.name,
        id = v.uid
    ));
}

#[test]
fn refuses_names_the_guest_has_and_changes_nothing() {
    let t = Test::new("bu-collide");
    let mut users = HostUsers::new();
    let u = user(&mut users, &t, "collide", "/bin/sh");
    let runtime = t.host_dir("runtime");
    let (passwd, group) = guest_dbs(&t);
    let run = |t: &Test| -> Output {
        t.cmd(&["-U", &bind(&u), "/bin/true"]).env("SPAWNBOX_RUNTIME_DIR", runtime.to_str().unwrap()).run()
    };

    let mut taken = passwd.clone();
    taken.extend_from_slice(format!("{}:x:2000:2000::/home/x:/bin/sh\n", u.name).as_bytes());
    fs::write(t.rpath("/etc/passwd"), &taken).unwrap();
    run(&t).error(&format!("--bind-user={n}: the user {n} already exists in the container's /etc/passwd", n = u.name));
    assert_eq!(fs::read(t.rpath("/etc/passwd")).unwrap(), taken);

    fs::write(t.rpath("/etc/passwd"), &passwd).unwrap();
    let mut taken = group.clone();
    taken.extend_from_slice(format!("{}:x:2000:\n", u.name).as_bytes());
    fs::write(t.rpath("/etc/group"), &taken).unwrap();
    run(&t).error(&format!("--bind-user={n}: the group {n} already exists in the container's /etc/group", n = u.name));
    assert_eq!(fs::read(t.rpath("/etc/group")).unwrap(), taken);

    // Nothing was made on the host: no UID range lock, no ownership change in the tree.
    assert_eq!(fs::read_dir(&runtime).unwrap().count(), 0);
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0, 0));
    assert!(!t.rpath("/run/host").exists());
}

#[test]
fn picks_uids_the_guest_does_not_use() {
    let t = Test::new("bu-pick");
    let mut users = HostUsers::new();
    let (a, b) = (user(&mut users, &t, "pick-a", "/bin/sh"), user(&mut users, &t, "pick-b", "/bin/sh"));
    let (passwd, group) = guest_dbs(&t);
    fs::write(t.rpath("/etc/passwd"), [&passwd[..], format!("used:x:{FIRST}:0::/:\n").as_bytes()].concat()).unwrap();
    fs::write(t.rpath("/etc/group"), [&group[..], format!("usedg:x:{}:\n", FIRST + 1).as_bytes()].concat()).unwrap();
    let script = format!("id -u {}; id -u {}; tr -s ' ' < /proc/self/gid_map", a.name, b.name);
    let out = t.sh(&["-U", &bind(&a), &bind(&b)], &script).ok().to_string();
    let base = base_of(out.lines().nth(2).unwrap());
    assert_eq!(
        out,
        format!(
            "{}\n{}\n 0 {base} {}\n {} {} 1\n {} {} 1\n {} {} {}\n",
            FIRST + 2,
            FIRST + 3,
            FIRST + 2,
            FIRST + 2,
            a.uid,
            FIRST + 3,
            b.uid,
            FIRST + 4,
            base + FIRST + 4,
            65536 - FIRST - 4
        )
    );
}

#[test]
fn bind_user_group_adds_memberships() {
    let t = Test::new("bu-group");
    let mut users = HostUsers::new();
    let u = user(&mut users, &t, "group", "/bin/sh");
    let n = &u.name;
    let script = format!(
        "id {n}; grep -E '^(wheel|audio):' /etc/group; ls /run/host/userdb | grep membership; \
         cat '/run/host/userdb/{n}:wheel.membership' /run/host/userdb/{n}.user"
    );
    let out = t.sh(&["-U", &bind(&u), "--bind-user-group=wheel", "--bind-user-group=audio"], &script).ok().to_string();
    assert_eq!(
        out,
        format!(
            "uid={FIRST}({n}) gid={FIRST}({n}) groups={FIRST}({n}),10(wheel),29(audio)\n\
             wheel:x:10:alice,{n}\naudio:x:29:alice,{n}\n{n}:audio.membership\n{n}:wheel.membership\n{{}}\n\
             {{\"userName\":\"{n}\",\"uid\":{FIRST},\"gid\":{FIRST},\"homeDirectory\":\"/run/host/home/{n}\",\
             \"service\":\"io.systemd.NSpawn\",\"memberOf\":[\"wheel\",\"audio\"]}}\n"
        )
    );
    t.run(&["-U", &bind(&u), "--bind-user-group=video", "/bin/true"])
        .error("--bind-user-group=video: no such group in the container's /etc/group");
    t.run(&["-U", "--bind-user-group=wheel", "/bin/true"]).error("cannot use --bind-user-group= without --bind-user=");
}

#[test]
fn bind_user_shell_sets_the_shell() {
    let t = Test::new("bu-shell");
    let mut users = HostUsers::new();
    let u = user(&mut users, &t, "shell", "/bin/host-shell");
    let n = &u.name;
    let script =
        format!("grep '^{n}:' /etc/passwd | cut -d: -f7; grep -o '\"shell\":\"[^\"]*\"' /run/host/userdb/{n}.user");
    let shell = |opt: Option<&str>| {
        let mut args = vec!["-U".to_string(), bind(&u)];
        args.extend(opt.map(str::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        t.sh(&args, &format!("{script}; true")).ok().to_string()
    };
    assert_eq!(shell(None), "\n");
    assert_eq!(shell(Some("--bind-user-shell=no")), "\n");
    assert_eq!(shell(Some("--bind-user-shell=yes")), "/bin/host-shell\n\"shell\":\"/bin/host-shell\"\n");
    assert_eq!(shell(Some("--bind-user-shell=/bin/ash")), "/bin/ash\n\"shell\":\"/bin/ash\"\n");
    // The login shell is the one given.
    let out = t.sh(&["-U", &bind(&u), "--bind-user-shell=/bin/ash"], &format!("su - {n} -c 'echo $SHELL; pwd'"));
    assert_eq!(out.ok(), format!("/bin/ash\n/run/host/home/{n}\n"));
    t.run(&["-U", &bind(&u), "--bind-user-shell=ash", "/bin/true"])
        .error("--bind-user-shell=ash: expected a boolean or an absolute, normalized path");
}

#[test]
fn nss_systemd_guests_get_the_records_only() {
    let t = Test::new("bu-nss");
    let mut users = HostUsers::new();
    let u = user(&mut users, &t, "nss", "/bin/sh");
    t.write("/etc/nsswitch.conf", "passwd:         files systemd\ngroup:          files systemd\n");
    let (passwd, _) = guest_dbs(&t);
    let script = format!(
        "cat /etc/passwd; test -e /run/host/bind-user || echo no copies; ls /run/host/userdb; \
         stat -c '%u %g' /run/host/home/{}",
        u.name
    );
    let out = t.sh(&["-U", &bind(&u)], &script).ok().to_string();
    assert_eq!(
        out,
        format!(
            "{}no copies\n{FIRST}.group\n{FIRST}.user\n{FIRST}.user-privileged\n{n}.group\n{n}.user\n{n}.user-privileged\n{FIRST} {FIRST}\n",
            String::from_utf8(passwd).unwrap(),
            n = u.name
        )
    );
}

/// The Debian guest (glibc's NSS files module, PAM's su) of `tests/guests/mkguest.sh systemd`,
/// copied; it has no nss-systemd, so it gets the passwd/group copies.
#[test]
fn a_debian_guest_resolves_the_user_through_glibc() {
    let tree = spawnbox_tests::guest("systemd");
    let t = Test::from_tree("bu-debian", &tree);
    let mut users = HostUsers::new();
    let u = user(&mut users, &t, "deb", "/bin/bash");
    let n = &u.name;
    let dbs = guest_dbs(&t);
    let script = format!(
        "getent passwd {n}; getent group {n}; id {n}; su {n} -c 'id -un; cat ~/from-host; touch ~/from-debian'; \
         su - {n} -c pwd"
    );
    let out = t.sh(&["-U", &bind(&u), "--bind-user-shell=yes"], &script).ok().to_string();
    assert_eq!(
        out,
        format!(
            "{n}:!*:{FIRST}:{FIRST}:{n}:/run/host/home/{n}:/bin/bash\n{n}:x:{FIRST}:\n\
             uid={FIRST}({n}) gid={FIRST}({n}) groups={FIRST}({n})\n{n}\nmade on the host\n/run/host/home/{n}\n"
        )
    );
    assert_eq!(owner(&u.home.join("from-debian")), (u.uid, u.uid));
    assert_eq!(guest_dbs(&t), dbs);
}
