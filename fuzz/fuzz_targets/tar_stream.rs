//! Fuzzes the tar stream reader `tar::Reader` (header blocks, checksums, octal and base-256
//! numbers, GNU long names/links, pax local and global records, text ACLs) and the
//! containment rules `tar::path` applied to every name it yields.
//!
//! Input: an archive's bytes (uncompressed).
//!
//! Invariants:
//! 1. Reading never panics and is deterministic (the same entries, data and error twice).
//! 2. An error is one line starting `offset N: ` with N at most the input's length.
//! 3. An entry's data, read to its end, is exactly `size` bytes; an entry that claims more
//!    than the input holds ends the read with an error.
//! 4. A name `path::components` accepts has no empty, `.` or `..` component and no `/` or NUL
//!    in a component; a refused one has `..`, a NUL, or is empty.
//! 5. Every 512-byte block that parses as a header and whose fields fit ustar encodes back
//!    to a block that parses to the same header.
//! 6. pax times: `format_time(parse_time(x))` parses to the same time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::tar::header::{self, Kind, BLOCK};
use spawnbox::tar::{path, pax, Entry, Reader};

/// Everything one read of the archive yields: the entries with their data, then the error.
fn read_all(data: &[u8]) -> (Vec<(Entry, Vec<u8>)>, Option<String>) {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    loop {
        let e = match r.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => return (out, None),
            Err(err) => return (out, Some(err.to_string())),
        };
        let mut content = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match r.read_data(&mut buf) {
                Ok(0) => break,
                Ok(n) => content.extend_from_slice(&buf[..n]),
                Err(err) => {
                    out.push((e, content));
                    return (out, Some(err.to_string()));
                }
            }
        }
        assert_eq!(content.len() as u64, e.size, "invariant 3: data of {:?}", e.display());
        out.push((e, content));
    }
}

fn check_name(name: &[u8]) {
    match path::components(name) {
        Ok(comps) => {
            for c in comps {
                assert!(!c.is_empty() && c != b"." && c != b"..", "invariant 4: {c:?} of {name:?}");
                assert!(!c.contains(&b'/') && !c.contains(&0), "invariant 4: {c:?} of {name:?}");
            }
        }
        Err(_) => {
            let dotdot = name.split(|&b| b == b'/').any(|c| c == b"..");
            assert!(name.is_empty() || name.contains(&0) || dotdot, "invariant 4: {name:?} refused");
        }
    }
    let _ = name.rsplit(|&b| b == b'/').next().map(path::whiteout);
}

fn fits(h: &header::Header) -> bool {
    header::split_name(&h.name).is_some()
        && h.link.len() <= 100
        && h.uid <= header::MAX_ID
        && h.gid <= header::MAX_ID
        && h.size <= header::MAX_SIZE
        && (0..=header::MAX_SIZE as i64).contains(&h.mtime)
        // A v7 directory is `name/` with type '0'; its name must survive as a name.
        && !h.name.is_empty()
        && !matches!(h.kind, Kind::Other(_))
}

fuzz_target!(|data: &[u8]| {
    let (entries, err) = read_all(data);
    assert!(read_all(data) == (entries.clone(), err.clone()), "invariant 1: not deterministic");
    if let Some(e) = &err {
        assert!(!e.contains('\n'), "invariant 2: {e:?}");
        let n = e.strip_prefix("offset ").and_then(|r| r.split_once(": ")).map(|(n, _)| n);
        let n: u64 = n.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("invariant 2: {e:?}"));
        assert!(n <= data.len() as u64, "invariant 2: {e:?} of {} bytes", data.len());
    }
    for (e, _) in &entries {
        if e.size > data.len() as u64 {
            assert!(err.is_some(), "invariant 3: size {} of {} bytes read without an error", e.size, data.len());
        }
        check_name(&e.name);
        if e.kind == Kind::HardLink {
            check_name(&e.link);
        }
    }
    for chunk in data.chunks_exact(BLOCK) {
        let block: &[u8; BLOCK] = chunk.try_into().unwrap();
        if let Ok(h) = header::parse(block) {
            if fits(&h) {
                let again = header::parse(&header::encode(&h)).expect("invariant 5: encoded block parses");
                assert_eq!(again, h, "invariant 5");
            }
        }
    }
    for word in data.split(|&b| b == b' ' || b == b'=' || b == b'\n') {
        if let Some(t) = pax::parse_time(word) {
            assert_eq!(pax::parse_time(pax::format_time(t).as_bytes()), Some(t), "invariant 6: {word:?}");
        }
    }
});
