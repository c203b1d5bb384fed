//! Fuzzes the OCI runtime's reader of a bundle's `config.json`: `runtime_spec::parse`.
//!
//! Input: one document (any bytes).
//!
//! Invariants:
//! 1. `parse` never panics and is deterministic; an error is one line.
//! 2. What it accepts keeps the spec's MUSTs: a supported `ociVersion` (1.0.x-1.3.x); a
//!    non-empty root path; mount, masked, read-only, device and namespace paths absolute;
//!    `process.args` non-empty and `process.cwd` absolute; every env entry `NAME=VALUE`;
//!    rlimits with soft ≤ hard; each namespace type at most once; id mappings only with a
//!    new user namespace, each of a size above zero; hook paths absolute, timeouts above zero;
//!    seccomp argument indexes 0-5.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::runtime_spec::{parse, NsKind};

fuzz_target!(|data: &[u8]| {
    let first = parse(data);
    let again = parse(data);
    let c = match first {
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s:?}");
            assert_eq!(again.map_err(|e| e.to_string()), Err(s));
            return;
        }
        Ok(c) => c,
    };
    assert_eq!(again.ok().as_ref(), Some(&c), "parse is not deterministic");
    assert!(["1.0", "1.1", "1.2", "1.3"].iter().any(|v| c.oci_version == *v || c.oci_version.starts_with(&format!("{v}."))));
    assert!(!c.root.path.is_empty());
    assert!(c.mounts.iter().all(|m| m.destination.starts_with('/')));
    if let Some(p) = &c.process {
        assert!(!p.args.is_empty() && p.cwd.starts_with('/'));
        assert!(p.env.iter().all(|e| e.contains('=')));
        assert!(p.rlimits.iter().all(|r| r.soft <= r.hard));
    }
    let l = &c.linux;
    for (i, n) in l.namespaces.iter().enumerate() {
        assert!(!l.namespaces[..i].iter().any(|m| m.kind == n.kind), "{:?} twice", n.kind);
        assert!(n.path.as_deref().is_none_or(|p| p.starts_with('/')));
    }
    let new_userns = l.namespaces.iter().any(|n| n.kind == NsKind::User && n.path.is_none());
    assert!(new_userns || (l.uid_mappings.is_empty() && l.gid_mappings.is_empty()));
    assert!(l.uid_mappings.iter().chain(&l.gid_mappings).all(|m| m.size > 0));
    assert!(l.masked_paths.iter().chain(&l.readonly_paths).all(|p| p.starts_with('/')));
    assert!(l.devices.iter().all(|d| d.path.starts_with('/')));
    let h = &c.hooks;
    for hook in [&h.prestart, &h.create_runtime, &h.create_container, &h.start_container, &h.poststart, &h.poststop]
        .into_iter()
        .flatten()
    {
        assert!(hook.path.starts_with('/') && hook.timeout != Some(0));
    }
    if let Some(s) = &l.seccomp {
        assert!(s.syscalls.iter().all(|r| !r.names.is_empty() && r.args.iter().all(|a| a.index <= 5)));
    }
});
