//! pax extended header records (`LEN KEY=VALUE\n`), both ways, and the keys spawnbox reads:
//! `path`, `linkpath`, `size`, `uid`, `gid`, `mtime` (with a fraction), `SCHILY.xattr.*`,
//! `SCHILY.acl.access`/`default` (text ACLs, turned into the xattrs the kernel takes) and the
//! `GNU.sparse.*` family (refused). `uname`/`gname` are ignored: ids are kept numerically, as
//! systemd's import-tar does (`tar --numeric-owner`). Pure functions of bytes.

/// A point in time as tar stores it: seconds since the epoch and nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// What the pax records of one entry (or the global ones) say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pax {
    pub path: Option<Vec<u8>>,
    pub link: Option<Vec<u8>>,
    pub size: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub mtime: Option<Time>,
    /// Extended attributes in archive order (`SCHILY.xattr.NAME`, value bytes as stored).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// `SCHILY.acl.access` / `SCHILY.acl.default` as text (used when no xattr form came).
    pub acl_access: Option<Vec<u8>>,
    pub acl_default: Option<Vec<u8>>,
    /// A `GNU.sparse.*` key was present: the entry is a sparse file in one of GNU's pax forms.
    pub sparse: bool,
}

/// Parses a pax header's data into `into` (later keys override earlier ones).
pub fn parse(data: &[u8], into: &mut Pax) -> Result<(), String> {
    let mut rest = data;
    while !rest.is_empty() {
        // Some writers pad the data with NULs.
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest.iter().position(|&b| b == b' ').ok_or("pax record without a length")?;
        let len: usize =
            std::str::from_utf8(&rest[..sp]).ok().and_then(|s| s.parse().ok()).ok_or("pax record with a bad length")?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("pax record with a bad length".into());
        }
        let record = &rest[sp + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or("pax record without '='")?;
        apply(&record[..eq], &record[eq + 1..], into)?;
        rest = &rest[len..];
    }
    Ok(())
}

fn decimal(key: &[u8], v: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(v)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("pax record {}: bad number", String::from_utf8_lossy(key)))
}

fn apply(key: &[u8], value: &[u8], p: &mut Pax) -> Result<(), String> {
    match key {
        b"path" => p.path = Some(value.to_vec()),
        b"linkpath" => p.link = Some(value.to_vec()),
        b"size" => p.size = Some(decimal(key, value)?),
        b"uid" => p.uid = Some(decimal(key, value)?),
        b"gid" => p.gid = Some(decimal(key, value)?),
        b"mtime" => p.mtime = Some(parse_time(value).ok_or("pax record mtime: bad time")?),
        b"SCHILY.acl.access" => p.acl_access = Some(value.to_vec()),
        b"SCHILY.acl.default" => p.acl_default = Some(value.to_vec()),
        _ => {
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                if name.is_empty() || name.contains(&0) {
                    return Err("pax record SCHILY.xattr.: bad attribute name".into());
                }
                p.xattrs.retain(|(n, _)| n != name);
                p.xattrs.push((name.to_vec(), value.to_vec()));
            } else if key.starts_with(b"GNU.sparse.") {
                p.sparse = true;
            }
            // Everything else (atime, ctime, uname, gname, comment, charset, LIBARCHIVE.*,
            // vendor keys) does not change what is extracted.
        }
    }
    Ok(())
}

/// `[-]SECONDS[.FRACTION]`, the fraction cut to nanoseconds. Negative times count down:
/// `-1.25` is 1.25 s before the epoch (sec -2, nsec 750000000).
pub fn parse_time(v: &[u8]) -> Option<Time> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = int.parse().ok()?;
    let mut nsec: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nsec += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if !neg {
        return Some(Time { sec, nsec });
    }
    if nsec == 0 {
        Some(Time { sec: sec.checked_neg()?, nsec: 0 })
    } else {
        Some(Time { sec: sec.checked_neg()?.checked_sub(1)?, nsec: 1_000_000_000 - nsec })
    }
}

/// The pax text of a time (`1700000000.123456789`, trailing zeros of the fraction dropped).
pub fn format_time(t: Time) -> String {
    let (neg, sec, nsec) = if t.sec < 0 && t.nsec > 0 {
        (true, -(t.sec + 1), 1_000_000_000 - t.nsec)
    } else {
        (t.sec < 0, t.sec.unsigned_abs() as i64, t.nsec)
    };
    let sign = if neg { "-" } else { "" };
    if nsec == 0 {
        return format!("{sign}{sec}");
    }
    let frac = format!("{nsec:09}");
    format!("{sign}{sec}.{}", frac.trim_end_matches('0'))
}

/// Appends one record `LEN KEY=VALUE\n` (LEN counts itself).
pub fn record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// ACL tags of the kernel's `system.posix_acl_*` xattr format.
const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
const ACL_UNDEFINED_ID: u32 = u32::MAX;

/// A text ACL as star and GNU tar store it (`user::rw-,user:1000:r--,group::r--,mask::r--,
/// other::r--`, entries separated by commas or newlines, star's trailing `:ID` field
/// allowed) as the kernel's xattr value. Qualifiers must be numeric ids (or carry star's
/// numeric field): names would have to be looked up in a passwd file the image may not have
/// yet. None for anything else.
pub fn acl_from_text(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut entries: Vec<(u16, u16, u32)> = Vec::new();
    for e in text.split([',', '\n']).map(str::trim).filter(|e| !e.is_empty() && !e.starts_with('#')) {
        let f: Vec<&str> = e.split(':').collect();
        if f.len() < 3 || f.len() > 4 {
            return None;
        }
        let qualified = !f[1].is_empty();
        let tag = match (f[0], qualified) {
            ("user" | "u", false) => ACL_USER_OBJ,
            ("user" | "u", true) => ACL_USER,
            ("group" | "g", false) => ACL_GROUP_OBJ,
            ("group" | "g", true) => ACL_GROUP,
            ("mask" | "m", false) => ACL_MASK,
            ("other" | "o", false) => ACL_OTHER,
            _ => return None,
        };
        let id = if !qualified {
            ACL_UNDEFINED_ID
        } else {
            f[1].parse().ok().or_else(|| f.get(3).and_then(|n| n.parse().ok()))?
        };
        let perm = f[2].bytes().try_fold(0u16, |acc, b| match b {
            b'r' => Some(acc | 4),
            b'w' => Some(acc | 2),
            b'x' => Some(acc | 1),
            b'-' => Some(acc),
            _ => None,
        })?;
        entries.push((tag, perm, id));
    }
    if entries.is_empty() {
        return None;
    }
    // The kernel wants entries sorted by tag, then id.
    crate::sort::sort_by_key(&mut entries, |&(t, _, id)| (t, id));
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

/// The kernel's ACL xattr value as the text GNU tar stores in `SCHILY.acl.*` (numeric ids,
/// one entry a line), so that GNU tar restores ACLs from our archives too. None if the value
/// is not a version 2 ACL.
pub fn acl_to_text(value: &[u8]) -> Option<Vec<u8>> {
    if value.len() < 4 || (value.len() - 4) % 8 != 0 || value[..4] != 2u32.to_le_bytes() {
        return None;
    }
    let mut out = String::new();
    for e in value[4..].chunks(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let head = match tag {
            ACL_USER_OBJ => "user::".to_string(),
            ACL_USER => format!("user:{id}:"),
            ACL_GROUP_OBJ => "group::".to_string(),
            ACL_GROUP => format!("group:{id}:"),
            ACL_MASK => "mask::".to_string(),
            ACL_OTHER => "other::".to_string(),
            _ => return None,
        };
        out.push_str(&head);
        for (bit, c) in [(4, 'r'), (2, 'w'), (1, 'x')] {
            out.push(if perm & bit != 0 { c } else { '-' });
        }
        out.push('\n');
    }
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let mut data = Vec::new();
        record(&mut data, b"path", b"a/very/long/name");
        record(&mut data, b"mtime", b"1700000000.5");
        record(&mut data, b"SCHILY.xattr.user.k", b"v\0with nul\nand newline");
        record(&mut data, b"SCHILY.xattr.security.capability", &[1, 0, 0, 2]);
        record(&mut data, b"uname", b"ignored");
        record(&mut data, b"size", b"12345678901");
        record(&mut data, b"uid", b"4294967296");
        let mut p = Pax::default();
        parse(&data, &mut p).unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a/very/long/name"[..]));
        assert_eq!(p.mtime, Some(Time { sec: 1_700_000_000, nsec: 500_000_000 }));
        assert_eq!(p.size, Some(12_345_678_901));
        assert_eq!(p.uid, Some(1 << 32));
        assert_eq!(
            p.xattrs,
            vec![
                (b"user.k".to_vec(), b"v\0with nul\nand newline".to_vec()),
                (b"security.capability".to_vec(), vec![1, 0, 0, 2])
            ]
        );
    }

    #[test]
    fn record_lengths_count_themselves() {
        // "9 a=bcd\n" is 8 bytes: the length grows a digit at the boundary.
        for n in 0..200 {
            let mut out = Vec::new();
            record(&mut out, b"k", &vec![b'v'; n]);
            let sp = out.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value length {n}");
        }
    }

    #[test]
    fn bad_records_are_errors() {
        let table: &[(&[u8], &str)] = &[
            (b"x path=a\n", "pax record with a bad length"),
            (b"99 path=a\n", "pax record with a bad length"),
            (b"10 path=a\nX", "pax record without a length"),
            (b"8 patha\n", "pax record without '='"),
            (b"path=a\n", "pax record without a length"),
            (b"12 size=-12\n", "pax record size: bad number"),
            (b"13 mtime=1.x\n", "pax record mtime: bad time"),
            (b"5 a\n\n", "pax record without '='"),
        ];
        for (data, want) in table {
            assert_eq!(parse(data, &mut Pax::default()).unwrap_err(), *want, "{:?}", String::from_utf8_lossy(data));
        }
        // NUL padding after the records is accepted.
        let mut p = Pax::default();
        parse(b"10 path=a\n\0\0\0", &mut p).unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn times() {
        type Row = (&'static str, Option<(i64, u32)>, &'static str);
        let table: &[Row] = &[
            ("0", Some((0, 0)), "0"),
            ("1700000000.123456789", Some((1_700_000_000, 123_456_789)), "1700000000.123456789"),
            ("1700000000.1234567891234", Some((1_700_000_000, 123_456_789)), "1700000000.123456789"),
            ("1700000000.5", Some((1_700_000_000, 500_000_000)), "1700000000.5"),
            ("1.", Some((1, 0)), "1"),
            ("-1", Some((-1, 0)), "-1"),
            ("-1.25", Some((-2, 750_000_000)), "-1.25"),
            ("", None, ""),
            ("1.2.3", None, ""),
            ("+1", None, ""),
            ("-", None, ""),
            ("99999999999999999999", None, ""),
        ];
        for (text, want, back) in table {
            let t = parse_time(text.as_bytes());
            assert_eq!(t.map(|t| (t.sec, t.nsec)), *want, "{text}");
            if let Some(t) = t {
                assert_eq!(format_time(t), *back);
            }
        }
    }

    #[test]
    fn sparse_keys_are_noticed() {
        let mut p = Pax::default();
        parse(b"22 GNU.sparse.major=1\n", &mut p).unwrap();
        assert!(p.sparse);
    }

    #[test]
    fn text_acls() {
        // What GNU tar 1.34 wrote for `setfacl -m u:1234:r f` (SCHILY.acl.access).
        let acl = acl_from_text(b"user::rw-\nuser:1234:r--\ngroup::r--\nmask::r--\nother::r--\n").unwrap();
        let want: Vec<u8> = [
            &2u32.to_le_bytes()[..],
            &[1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff],
            &[2, 0, 4, 0, 0xd2, 0x04, 0, 0],
            &[4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff],
            &[0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff],
            &[0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat();
        assert_eq!(acl, want);
        assert_eq!(acl_to_text(&acl).unwrap(), b"user::rw-\nuser:1234:r--\ngroup::r--\nmask::r--\nother::r--\n");
        assert_eq!(acl_to_text(&acl[..10]), None);
        // star's form: name plus numeric id.
        assert!(acl_from_text(b"user::rwx,user:joe:r-x:1001,group::r-x,mask::r-x,other::---").is_some());
        // A name alone cannot be resolved here.
        assert_eq!(acl_from_text(b"user::rwx,user:joe:r-x,group::r-x,other::---"), None);
        assert_eq!(acl_from_text(b"user::rwz"), None);
        assert_eq!(acl_from_text(b""), None);
    }
}
