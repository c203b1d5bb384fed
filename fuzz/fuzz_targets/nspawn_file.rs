//! Fuzzes the `.nspawn` settings-file parser `settings::file::parse(name, bytes)`.
//!
//! Input: the file's bytes (any bytes: non-UTF-8, NUL, CR, long lines).
//!
//! Invariants:
//! 1. `parse` never panics and is deterministic.
//! 2. Every error and warning is one line that starts with `FILE:LINE: `, LINE a line of the
//!    input (1 ..= the number of line ends + 1).
//! 3. `given` only holds groups a file can set; it is non-empty only if the input names a key
//!    of the table with a `=` after it.
//! 4. Round trip: the settings are rendered back to a `.nspawn` file, one line per value of
//!    each given group, and that file parses to the same settings, `given` included (so no
//!    value is set without its group, and no group is given without a value to show for it).
//! 5. Merged as an untrusted file into an empty command line, it sets no privileged field
//!    (only `DropCapability=` and a deny-only `SystemCallFilter=` pass).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::settings::file::{parse, KEYS};
use spawnbox::settings::{
    merge, BindIdmap, CustomMount, LinkJournal, MountSource, NetworkAddress, PrivateUsers, ResolvConfMode,
    ResolvConfSource, Settings, SettingsMask as S, StartMode, TimezoneMode, UserNamespaceOwnership, VolatileMode,
};
use std::fmt::Write;
use std::path::Path;

const FILE: &str = "/etc/systemd/nspawn/fuzz.nspawn";

/// Checks invariant 2 for one message.
fn check_message(msg: &str, lines: usize, what: &str) {
    assert!(!msg.contains('\n'), "{what} is not one line: {msg:?}");
    let rest = msg.strip_prefix(FILE).and_then(|r| r.strip_prefix(':')).unwrap_or_else(|| panic!("{what}: {msg:?}"));
    let (n, tail) = rest.split_once(": ").unwrap_or_else(|| panic!("{what} without a line: {msg:?}"));
    let n: usize = n.parse().unwrap_or_else(|_| panic!("{what}: bad line number in {msg:?}"));
    assert!((1..=lines).contains(&n), "{what}: line {n} of {lines}: {msg:?}");
    assert!(!tail.is_empty(), "{what}: empty message {msg:?}");
}

/// Whether the input names a key of the table with a `=` somewhere after it (continuation
/// lines and comments may come between the two).
fn names_a_key(data: &[u8]) -> bool {
    KEYS.iter().any(|k| {
        let name = k.name.as_bytes();
        data.windows(name.len()).enumerate().any(|(i, w)| w == name && data[i + name.len()..].contains(&b'='))
    })
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A word for `Parameters=`/`Environment=`: single-quoted, a `'` as `'"'"'`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

/// A word for the keys split at blanks with backslash escapes.
fn escape_word(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        if matches!(c, ' ' | '\t' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A path inside a colon-separated mount value.
fn esc(p: &Path) -> String {
    path(p).replace('\\', "\\\\").replace(':', "\\:")
}

fn src(s: &MountSource) -> String {
    match s {
        MountSource::Host(p) => esc(p),
        MountSource::InRoot(p) => format!("+{}", esc(p)),
    }
}

/// A path as a value: a trailing blank (`/a\\ ` in a mount, or a continuation's space) would be
/// stripped from the end of the line, so such a path gets a `/`, which the parsers simplify away.
fn path(p: &Path) -> String {
    let s = p.to_str().expect("parsed paths are UTF-8");
    if s.ends_with([' ', '\t']) {
        format!("{s}/")
    } else {
        s.to_string()
    }
}

/// One `KEY=VALUE` line.
fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key}={value} ");
}

fn caps(mask: u64) -> String {
    (0..64).filter(|b| mask & (1 << b) != 0).map(|b| b.to_string()).collect::<Vec<_>>().join(" ")
}

fn resolv_conf(m: ResolvConfMode) -> String {
    let source = |s| match s {
        ResolvConfSource::Host => "host",
        ResolvConfSource::Static => "static",
        ResolvConfSource::Uplink => "uplink",
        ResolvConfSource::Stub => "stub",
    };
    match m {
        ResolvConfMode::Off => "off".into(),
        ResolvConfMode::Delete => "delete".into(),
        ResolvConfMode::Auto => "auto".into(),
        ResolvConfMode::Copy(s) => format!("copy-{}", source(s)),
        ResolvConfMode::Replace(s) => format!("replace-{}", source(s)),
        ResolvConfMode::Bind(s) => format!("bind-{}", source(s)),
    }
}

/// The settings as a `.nspawn` file: every value of every given group. Each line ends in a
/// blank so that a value ending in a backslash does not continue on the next line.
fn render(s: &Settings) -> String {
    let g = s.given;
    let (mut exec, mut files, mut network) = (String::new(), String::new(), String::new());
    if g.contains(S::START_MODE) {
        match s.start_mode {
            Some(StartMode::Boot) => line(&mut exec, "Boot", "yes"),
            Some(StartMode::Pid2) => line(&mut exec, "ProcessTwo", "yes"),
            Some(StartMode::Pid1) => line(&mut exec, "Boot", "no"),
            None => {}
        }
        for p in &s.parameters {
            line(&mut exec, "Parameters", &quote(p.to_str().expect("parameters are UTF-8")));
        }
    }
    if g.contains(S::EPHEMERAL) {
        line(&mut exec, "Ephemeral", yes(s.ephemeral));
    }
    for e in s.setenv.iter().filter(|_| g.contains(S::ENVIRONMENT)) {
        line(&mut exec, "Environment", &quote(e));
    }
    if let Some(u) = s.user.as_deref().filter(|_| g.contains(S::USER)) {
        line(&mut exec, "User", u);
    }
    if g.contains(S::CAPABILITY) {
        for (key, mask) in [
            ("Capability", s.capability),
            ("AmbientCapability", s.ambient_capability),
            ("DropCapability", s.drop_capability),
        ] {
            if mask != 0 {
                line(&mut exec, key, &caps(mask));
            }
        }
    }
    if let Some(k) = s.kill_signal.filter(|_| g.contains(S::KILL_SIGNAL)) {
        line(&mut exec, "KillSignal", &k.to_string());
    }
    if let Some(p) = s.personality.as_deref().filter(|_| g.contains(S::PERSONALITY)) {
        line(&mut exec, "Personality", p);
    }
    if let Some(id) = s.uuid.filter(|_| g.contains(S::MACHINE_ID)) {
        line(&mut exec, "MachineID", &id.0.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    if let Some(c) = s.chdir.as_deref().filter(|_| g.contains(S::WORKING_DIRECTORY)) {
        line(&mut exec, "WorkingDirectory", &path(c));
    }
    if let Some((new, old)) = s.pivot_root.as_ref().filter(|_| g.contains(S::PIVOT_ROOT)) {
        let v = match old {
            Some(old) => format!("{}:{}", path(new), path(old)),
            None => path(new),
        };
        line(&mut exec, "PivotRoot", &v);
    }
    if g.contains(S::USERNS) {
        if let Some(p) = s.private_users {
            let v = match p {
                PrivateUsers::No => "no".to_string(),
                PrivateUsers::Yes => "yes".into(),
                PrivateUsers::Pick => "pick".into(),
                PrivateUsers::Identity => "identity".into(),
                PrivateUsers::Managed => "managed".into(),
                PrivateUsers::Fixed { base, size } => format!("{base}:{size}"),
            };
            line(&mut exec, "PrivateUsers", &v);
        }
        if let Some(o) = s.private_users_ownership {
            let v = match o {
                UserNamespaceOwnership::Off => "off",
                UserNamespaceOwnership::Chown => "chown",
                UserNamespaceOwnership::Map => "map",
                UserNamespaceOwnership::Foreign => "foreign",
                UserNamespaceOwnership::Auto => "auto",
            };
            line(&mut files, "PrivateUsersOwnership", v);
        }
    }
    if let Some(b) = s.notify_ready.filter(|_| g.contains(S::NOTIFY_READY)) {
        line(&mut exec, "NotifyReady", yes(b));
    }
    for w in s.system_call_filter.iter().filter(|_| g.contains(S::SYSCALL_FILTER)) {
        line(&mut exec, "SystemCallFilter", w);
    }
    for l in &s.rlimits {
        let names = ["CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS", "LOCKS"];
        let more = ["SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"];
        let name = names.iter().chain(more.iter()).nth(l.resource as usize).expect("resource 0..=15");
        let v = |n: u64| if n == u64::MAX { "infinity".to_string() } else { n.to_string() };
        line(&mut exec, &format!("Limit{name}"), &format!("{}:{}", v(l.soft), v(l.hard)));
    }
    if let Some(h) = s.hostname.as_deref().filter(|_| g.contains(S::HOSTNAME)) {
        line(&mut exec, "Hostname", h);
    }
    if let Some(b) = s.no_new_privileges.filter(|_| g.contains(S::NO_NEW_PRIVILEGES)) {
        line(&mut exec, "NoNewPrivileges", yes(b));
    }
    if let Some(o) = s.oom_score_adjust.filter(|_| g.contains(S::OOM_SCORE_ADJUST)) {
        line(&mut exec, "OOMScoreAdjust", &o.to_string());
    }
    if let Some(cpus) = s.cpu_affinity.as_ref().filter(|_| g.contains(S::CPU_AFFINITY)) {
        line(&mut exec, "CPUAffinity", &cpus.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","));
    }
    if let Some(r) = s.resolv_conf.filter(|_| g.contains(S::RESOLV_CONF)) {
        line(&mut exec, "ResolvConf", &resolv_conf(r));
    }
    if let Some(l) = s.link_journal.filter(|_| g.contains(S::LINK_JOURNAL)) {
        let v = match l {
            LinkJournal::No => "no",
            LinkJournal::Auto => "auto",
            LinkJournal::Host => "host",
            LinkJournal::TryHost => "try-host",
            LinkJournal::Guest => "guest",
            LinkJournal::TryGuest => "try-guest",
        };
        line(&mut exec, "LinkJournal", v);
    }
    if let Some(t) = s.timezone.filter(|_| g.contains(S::TIMEZONE)) {
        let v = match t {
            TimezoneMode::Off => "off",
            TimezoneMode::Copy => "copy",
            TimezoneMode::Bind => "bind",
            TimezoneMode::Symlink => "symlink",
            TimezoneMode::Delete => "delete",
            TimezoneMode::Auto => "auto",
        };
        line(&mut exec, "Timezone", v);
    }
    if let Some(b) = s.suppress_sync.filter(|_| g.contains(S::SUPPRESS_SYNC)) {
        line(&mut exec, "SuppressSync", yes(b));
    }
    if g.contains(S::READ_ONLY) {
        line(&mut files, "ReadOnly", yes(s.read_only));
    }
    if let Some(v) = s.volatile.filter(|_| g.contains(S::VOLATILE_MODE)) {
        let v = match v {
            VolatileMode::No => "no",
            VolatileMode::Yes => "yes",
            VolatileMode::State => "state",
            VolatileMode::Overlay => "overlay",
        };
        line(&mut files, "Volatile", v);
    }
    for m in s.custom_mounts.iter().filter(|_| g.contains(S::CUSTOM_MOUNTS)) {
        match m {
            CustomMount::Bind { source, destination, read_only, recursive, idmap } => {
                let mut opts = vec![if *recursive { "rbind" } else { "norbind" }];
                opts.push(match idmap {
                    BindIdmap::None => "noidmap",
                    BindIdmap::Idmap => "idmap",
                    BindIdmap::RootIdmap => "rootidmap",
                    BindIdmap::OwnerIdmap => "owneridmap",
                    // Only the OCI runtime's config.json makes it.
                    BindIdmap::IdmapTop => unreachable!("a .nspawn file made an OCI-only idmap"),
                });
                let key = if *read_only { "BindReadOnly" } else { "Bind" };
                line(&mut files, key, &format!("{}:{}:{}", src(source), esc(destination), opts.join(",")));
            }
            CustomMount::Tmpfs { destination, options } if options.is_empty() => {
                line(&mut files, "TemporaryFileSystem", &esc(destination))
            }
            CustomMount::Tmpfs { destination, options } => {
                line(&mut files, "TemporaryFileSystem", &format!("{}:{options}", esc(destination)))
            }
            CustomMount::Overlay { lower, upper, destination, read_only } => {
                let mut words: Vec<String> = lower.iter().map(src).collect();
                if !read_only {
                    words.push(upper.as_ref().map(src).unwrap_or_default());
                }
                words.push(esc(destination));
                line(&mut files, if *read_only { "OverlayReadOnly" } else { "Overlay" }, &words.join(":"));
            }
            CustomMount::Inaccessible { destination } => line(&mut files, "Inaccessible", &path(destination)),
        }
    }
    if g.contains(S::BIND_USER) {
        for u in &s.bind_user {
            line(&mut files, "BindUser", &escape_word(u));
        }
        if let Some(sh) = s.bind_user_shell.as_deref() {
            line(&mut files, "BindUserShell", sh);
        }
    }
    if g.contains(S::NETWORK) {
        line(&mut network, "Private", yes(s.private_network));
        line(&mut network, "VirtualEthernet", yes(s.network_veth));
        let pair = |p: &spawnbox::settings::InterfacePair| match &p.container {
            Some(c) => format!("{}:{c}", p.host),
            None => p.host.clone(),
        };
        for (key, list) in
            [("Interface", &s.network_interfaces), ("MACVLAN", &s.network_macvlan), ("IPVLAN", &s.network_ipvlan)]
        {
            for p in list {
                line(&mut network, key, &escape_word(&pair(p)));
            }
        }
        for p in &s.network_veth_extra {
            line(&mut network, "VirtualEthernetExtra", &pair(p));
        }
        if let Some(b) = s.network_bridge.as_deref() {
            line(&mut network, "Bridge", b);
        }
        if let Some(z) = s.network_zone.as_deref() {
            line(&mut network, "Zone", z);
        }
    }
    for p in s.ports.iter().filter(|_| g.contains(S::EXPOSE_PORTS)) {
        let proto = if p.udp { "udp" } else { "tcp" };
        line(&mut network, "Port", &format!("{proto}:{}:{}", p.host_port, p.container_port));
    }
    if g.contains(S::NETWORK_ADDRESSING) {
        if let Some(b) = s.network_nat {
            line(&mut network, "NAT", yes(b));
        }
        if let Some(a) = s.network_address {
            let v = match a {
                NetworkAddress::Off => "off".to_string(),
                NetworkAddress::Auto => "auto".into(),
                NetworkAddress::Pool(addr, len) => format!("{addr}/{len}"),
            };
            line(&mut network, "Address", &v);
        }
    }
    format!("[Exec]\n{exec}[Files]\n{files}[Network]\n{network}")
}

/// Invariant 5: what an untrusted file may change of an empty command line.
fn check_untrusted(s: &Settings) {
    let m = merge(&Settings::default(), s, false).settings;
    let privileged = S::PRIVILEGED.difference(S::CAPABILITY | S::SYSCALL_FILTER);
    assert!(!m.given.intersects(privileged), "untrusted file gave {:?}", m.given & privileged);
    assert_eq!((m.capability, m.ambient_capability), (0, 0), "untrusted file added capabilities");
    assert!(m.system_call_filter.iter().all(|w| w.starts_with('~')), "untrusted allow list: {m:?}");
    assert!(m.custom_mounts.is_empty() && m.ports.is_empty() && m.rlimits.is_empty(), "{m:?}");
    assert!(!m.private_network && !m.network_veth && m.network_bridge.is_none() && m.network_zone.is_none());
    assert!(m.network_interfaces.is_empty() && m.network_macvlan.is_empty() && m.network_ipvlan.is_empty());
    assert!(m.network_veth_extra.is_empty() && m.private_users.is_none() && m.private_users_ownership.is_none());
    assert!(m.uuid.is_none() && m.oom_score_adjust.is_none() && m.cpu_affinity.is_none(), "{m:?}");
    assert!(m.link_journal.is_none() && m.console.is_none() && m.network_nat.is_none(), "{m:?}");
}

fuzz_target!(|data: &[u8]| {
    let name = Path::new(FILE);
    let first = parse(name, data);
    assert_eq!(first, parse(name, data), "parse is not deterministic");
    let lines = data.iter().filter(|b| matches!(b, b'\n' | b'\r' | 0)).count() + 1;
    let parsed = match first {
        Err(e) => return check_message(&e.to_string(), lines, "error"),
        Ok(p) => p,
    };
    for w in &parsed.warnings {
        check_message(w, lines, "warning");
    }
    let s = parsed.settings;
    let fileable = S::ALL.difference(S::CLI_ONLY) | S::NETWORK_ADDRESSING;
    assert!(fileable.contains(s.given), "given {:?} has groups no key sets", s.given);
    assert!(s.given.is_empty() || names_a_key(data), "given {:?} without a key in the input", s.given);

    let text = render(&s);
    let back = match parse(name, text.as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("round trip: {e}\nrendered:\n{text}"),
    };
    assert_eq!(back.warnings, Vec::<String>::new(), "round trip warnings:\n{text}");
    assert_eq!(back.settings, s, "round trip:\n{text}");
    check_untrusted(&s);
});
