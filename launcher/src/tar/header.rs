//! One 512-byte tar header block, both ways: parsing (ustar/GNU fields, octal and base-256
//! numbers, the checksum) and encoding (ustar with a checksum). Pure functions of bytes.

/// The tar block size: headers and data padding.
pub const BLOCK: usize = 512;

/// What a header block announces (the typeflag byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `'0'`, `'\0'` and `'7'` (contiguous, a regular file everywhere but on old Masscomps).
    File,
    /// `'1'`: a hard link to an earlier entry (`link` names it).
    HardLink,
    /// `'2'`.
    Symlink,
    /// `'3'`.
    Char,
    /// `'4'`.
    Block,
    /// `'5'` (and GNU's `'D'` dump directory: its data is a listing, skipped).
    Dir,
    /// `'6'`.
    Fifo,
    /// `'x'`: pax extended header for the next entry.
    PaxLocal,
    /// `'g'`: pax global extended header.
    PaxGlobal,
    /// `'L'`: GNU long name of the next entry.
    GnuLongName,
    /// `'K'`: GNU long link target of the next entry.
    GnuLongLink,
    /// `'S'`: GNU old-style sparse file (refused).
    GnuSparse,
    /// `'V'`: GNU volume label (skipped).
    GnuVolume,
    /// Anything else (refused, with the byte in the message).
    Other(u8),
}

impl Kind {
    /// The kind a typeflag byte stands for.
    pub fn from_byte(b: u8) -> Kind {
        match b {
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' | b'D' => Kind::Dir,
            b'6' => Kind::Fifo,
            b'x' => Kind::PaxLocal,
            b'g' => Kind::PaxGlobal,
            b'L' => Kind::GnuLongName,
            b'K' => Kind::GnuLongLink,
            b'S' => Kind::GnuSparse,
            b'V' => Kind::GnuVolume,
            other => Kind::Other(other),
        }
    }

    /// The typeflag byte written for this kind.
    pub fn to_byte(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::HardLink => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
            Kind::PaxLocal => b'x',
            Kind::PaxGlobal => b'g',
            Kind::GnuLongName => b'L',
            Kind::GnuLongLink => b'K',
            Kind::GnuSparse => b'S',
            Kind::GnuVolume => b'V',
            Kind::Other(b) => b,
        }
    }

    /// True for the headers that describe the next entry rather than being one.
    pub fn is_extension(self) -> bool {
        matches!(self, Kind::PaxLocal | Kind::PaxGlobal | Kind::GnuLongName | Kind::GnuLongLink)
    }

    /// True if the entry's data blocks hold file content (the others' data is skipped).
    pub fn has_content(self) -> bool {
        self == Kind::File
    }
}

/// The fields of one header block, as written in it (before pax/GNU overrides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `prefix/name` (ustar) or `name` (GNU, v7), without trailing NULs.
    pub name: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub kind: Kind,
    pub link: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
}

/// Why a block is not a header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The stored checksum matches neither the unsigned nor the signed sum.
    Checksum { stored: u64, computed: u64 },
    /// A numeric field that is neither octal nor base-256 (field name).
    Number(&'static str),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Checksum { stored, computed } => {
                write!(
                    f,
                    "bad header checksum (stored {stored:o}, computed {computed:o}): not a tar archive, or corrupt"
                )
            }
            HeaderError::Number(field) => write!(f, "bad number in the header's {field} field"),
        }
    }
}

// Field offsets and lengths (POSIX ustar; GNU uses the same positions up to `magic`).
const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 8);
const UID: (usize, usize) = (108, 8);
const GID: (usize, usize) = (116, 8);
const SIZE: (usize, usize) = (124, 12);
const MTIME: (usize, usize) = (136, 12);
const CHKSUM: (usize, usize) = (148, 8);
const TYPEFLAG: usize = 156;
const LINKNAME: (usize, usize) = (157, 100);
const MAGIC: (usize, usize) = (257, 8);
const DEVMAJOR: (usize, usize) = (329, 8);
const DEVMINOR: (usize, usize) = (337, 8);
const PREFIX: (usize, usize) = (345, 155);

/// POSIX ustar magic and version (`"ustar\0" "00"`).
const USTAR_MAGIC: &[u8; 8] = b"ustar\x0000";
/// GNU magic and version (`"ustar " " \0"`): no prefix field.
const GNU_MAGIC: &[u8; 8] = b"ustar  \x00";

fn field(block: &[u8; BLOCK], (at, len): (usize, usize)) -> &[u8] {
    &block[at..at + len]
}

/// The bytes of a NUL-terminated (or full-length) text field.
pub fn text(f: &[u8]) -> &[u8] {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..end]
}

/// A numeric field: octal digits (leading spaces, ending at a space or NUL), or GNU/star
/// base-256 (first byte 0x80 positive, 0xff negative, big-endian two's complement).
pub fn parse_number(f: &[u8]) -> Option<i64> {
    match f.first() {
        Some(0x80) | Some(0xff) => {
            let negative = f[0] == 0xff;
            let mut v: i128 = if negative { -1 } else { 0 };
            for (i, &b) in f.iter().enumerate() {
                let b = if i == 0 { b & 0x7f | if negative { 0x80 } else { 0 } } else { b };
                v = (v << 8) | i128::from(b);
                if v > i128::from(i64::MAX) || v < i128::from(i64::MIN) {
                    return None;
                }
            }
            Some(v as i64)
        }
        _ => {
            let digits = f.iter().skip_while(|&&b| b == b' ');
            let mut v: i64 = 0;
            let mut seen_end = false;
            for &b in digits {
                match b {
                    b'0'..=b'7' if !seen_end => v = v.checked_mul(8)?.checked_add(i64::from(b - b'0'))?,
                    b' ' | 0 => seen_end = true,
                    _ if seen_end => {}
                    _ => return None,
                }
            }
            Some(v)
        }
    }
}

fn unsigned(block: &[u8; BLOCK], f: (usize, usize), name: &'static str) -> Result<u64, HeaderError> {
    parse_number(field(block, f)).and_then(|v| u64::try_from(v).ok()).ok_or(HeaderError::Number(name))
}

/// The unsigned and signed sums of the block with the checksum field taken as spaces.
pub fn checksums(block: &[u8; BLOCK]) -> (u64, i64) {
    let (mut u, mut s) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (CHKSUM.0..CHKSUM.0 + CHKSUM.1).contains(&i) { b' ' } else { b };
        u += u64::from(b);
        s += i64::from(b as i8);
    }
    (u, s)
}

/// True for an all-zero block (the end-of-archive marker).
pub fn is_zero(block: &[u8; BLOCK]) -> bool {
    block.iter().all(|&b| b == 0)
}

/// Parses one header block (not all zeros: see [`is_zero`]).
pub fn parse(block: &[u8; BLOCK]) -> Result<Header, HeaderError> {
    let (u, s) = checksums(block);
    let stored = parse_number(field(block, CHKSUM)).ok_or(HeaderError::Number("chksum"))?;
    if stored != u as i64 && stored != s {
        return Err(HeaderError::Checksum { stored: stored as u64, computed: u });
    }
    let magic = field(block, MAGIC);
    let mut name = text(field(block, NAME)).to_vec();
    // Only POSIX ustar has a prefix; GNU keeps atime/ctime there.
    if magic[..6] == USTAR_MAGIC[..6] && magic != GNU_MAGIC {
        let prefix = text(field(block, PREFIX));
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
    }
    let mut kind = Kind::from_byte(block[TYPEFLAG]);
    // Pre-POSIX archives mark directories with a trailing slash on a regular entry.
    if kind == Kind::File && block[TYPEFLAG] != b'7' && name.last() == Some(&b'/') {
        kind = Kind::Dir;
    }
    let dev = |f, n| parse_number(field(block, f)).and_then(|v| u32::try_from(v).ok()).ok_or(HeaderError::Number(n));
    let (dev_major, dev_minor) = if matches!(kind, Kind::Char | Kind::Block) {
        (dev(DEVMAJOR, "devmajor")?, dev(DEVMINOR, "devminor")?)
    } else {
        (0, 0)
    };
    Ok(Header {
        name,
        mode: (unsigned(block, MODE, "mode")? & 0o7777) as u32,
        uid: unsigned(block, UID, "uid")?,
        gid: unsigned(block, GID, "gid")?,
        size: unsigned(block, SIZE, "size")?,
        mtime: parse_number(field(block, MTIME)).ok_or(HeaderError::Number("mtime"))?,
        kind,
        link: text(field(block, LINKNAME)).to_vec(),
        dev_major,
        dev_minor,
    })
}

/// Writes `v` as zero-padded octal ending in NUL into `f`; false if it does not fit.
fn put_octal(f: &mut [u8], v: u64) -> bool {
    let digits = f.len() - 1;
    if digits < 22 && v >> (3 * digits) != 0 {
        return false;
    }
    for i in (0..digits).rev() {
        f[digits - 1 - i] = b'0' + ((v >> (3 * i)) & 7) as u8;
    }
    f[digits] = 0;
    true
}

/// The largest value each octal field holds (the writer moves larger ones to pax records).
pub const MAX_ID: u64 = 0o7777777;
/// The largest size in the 12-byte field.
pub const MAX_SIZE: u64 = 0o77777777777;

/// Splits `name` into ustar's (prefix, name) at a slash, if it fits the two fields.
pub fn split_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= NAME.1 {
        return Some((&[], name));
    }
    // The prefix takes at most 155 bytes and the rest at most 100, split at a `/`.
    let lo = name.len().saturating_sub(NAME.1 + 1);
    (lo..name.len().min(PREFIX.1 + 1))
        .filter(|&i| name[i] == b'/')
        .map(|i| (&name[..i], &name[i + 1..]))
        .find(|(p, n)| !p.is_empty() && !n.is_empty() && n.len() <= NAME.1)
}

/// Encodes a ustar header. Fields that do not fit (long names, big ids, sizes, times) must
/// have been moved to a pax header by the caller; here they are truncated/zeroed.
pub fn encode(h: &Header) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let (prefix, name) = split_name(&h.name).unwrap_or((&[], &h.name[..h.name.len().min(NAME.1)]));
    b[NAME.0..NAME.0 + name.len()].copy_from_slice(name);
    b[PREFIX.0..PREFIX.0 + prefix.len()].copy_from_slice(prefix);
    put_octal(&mut b[MODE.0..MODE.0 + MODE.1], u64::from(h.mode));
    put_octal(&mut b[UID.0..UID.0 + UID.1], if h.uid <= MAX_ID { h.uid } else { 0 });
    put_octal(&mut b[GID.0..GID.0 + GID.1], if h.gid <= MAX_ID { h.gid } else { 0 });
    put_octal(&mut b[SIZE.0..SIZE.0 + SIZE.1], if h.size <= MAX_SIZE { h.size } else { 0 });
    put_octal(&mut b[MTIME.0..MTIME.0 + MTIME.1], u64::try_from(h.mtime).ok().filter(|&t| t <= MAX_SIZE).unwrap_or(0));
    b[TYPEFLAG] = h.kind.to_byte();
    let link = &h.link[..h.link.len().min(LINKNAME.1)];
    b[LINKNAME.0..LINKNAME.0 + link.len()].copy_from_slice(link);
    b[MAGIC.0..MAGIC.0 + MAGIC.1].copy_from_slice(USTAR_MAGIC);
    if matches!(h.kind, Kind::Char | Kind::Block) {
        put_octal(&mut b[DEVMAJOR.0..DEVMAJOR.0 + DEVMAJOR.1], u64::from(h.dev_major));
        put_octal(&mut b[DEVMINOR.0..DEVMINOR.0 + DEVMINOR.1], u64::from(h.dev_minor));
    }
    b[CHKSUM.0..CHKSUM.0 + CHKSUM.1].fill(b' ');
    let (sum, _) = checksums(&b);
    put_octal(&mut b[CHKSUM.0..CHKSUM.0 + 7], sum);
    b
}

/// Bytes of padding after `size` bytes of data.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header GNU tar 1.34 wrote (`tar --format=ustar -cf - hello`, hello = "hi\n", 0644,
    /// uid/gid 0, mtime 1700000000), fields as it laid them out.
    fn gnu_tar_block() -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..5].copy_from_slice(b"hello");
        b[100..108].copy_from_slice(b"0000644\0");
        b[108..116].copy_from_slice(b"0000000\0");
        b[116..124].copy_from_slice(b"0000000\0");
        b[124..136].copy_from_slice(b"00000000003\0");
        b[136..148].copy_from_slice(b"14524770400\0");
        b[156] = b'0';
        b[257..265].copy_from_slice(b"ustar\x0000");
        b[265..269].copy_from_slice(b"root");
        b[297..301].copy_from_slice(b"root");
        b[148..156].copy_from_slice(b"        ");
        let (sum, _) = checksums(&b);
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }

    #[test]
    fn parses_a_ustar_header() {
        let h = parse(&gnu_tar_block()).unwrap();
        assert_eq!(h.name, b"hello");
        assert_eq!((h.mode, h.uid, h.gid, h.size, h.mtime), (0o644, 0, 0, 3, 1_700_000_000));
        assert_eq!(h.kind, Kind::File);
    }

    #[test]
    fn checksum_is_checked() {
        let mut b = gnu_tar_block();
        b[0] = b'j';
        let e = parse(&b).unwrap_err();
        assert!(matches!(e, HeaderError::Checksum { .. }), "{e:?}");
        assert!(e.to_string().starts_with("bad header checksum (stored "), "{e}");
    }

    #[test]
    fn signed_checksum_is_accepted() {
        // Old tars summed bytes as signed chars: a name byte >= 0x80 makes the sums differ.
        let mut b = gnu_tar_block();
        b[0] = 0xe9;
        b[148..156].copy_from_slice(b"        ");
        let (_, s) = checksums(&b);
        b[148..156].copy_from_slice(format!("{s:06o}\0 ").as_bytes());
        assert_eq!(parse(&b).unwrap().name[0], 0xe9);
    }

    #[test]
    fn numbers_octal_and_base256() {
        let table: &[(&[u8], Option<i64>)] = &[
            (b"0000644\0", Some(0o644)),
            (b"   644 \0", Some(0o644)),
            (b"\0\0\0\0\0\0\0\0", Some(0)),
            (b"        ", Some(0)),
            (b"0000648\0", None),
            (b"12x\0", None),
            (b"77777777777777777777777", None),
            (&[0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], Some(1 << 32)),
            (&[0x80, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a], Some(0x12_3456_789a)),
            (&[0xff; 12], Some(-1)),
            (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe], Some(-2)),
            (&[0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], None),
            (&[0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Some(i64::MAX)),
        ];
        for (f, want) in table {
            assert_eq!(parse_number(f), *want, "{f:?}");
        }
    }

    #[test]
    fn ustar_prefix_joins_and_gnu_magic_does_not() {
        let mut h = Header {
            name: [b"d".repeat(120), b"/".to_vec(), b"f".repeat(90)].concat(),
            mode: 0o755,
            uid: 1000,
            gid: 100,
            size: 0,
            mtime: 5,
            kind: Kind::Dir,
            link: Vec::new(),
            dev_major: 0,
            dev_minor: 0,
        };
        let b = encode(&h);
        assert_eq!(&b[345..465], &b"d".repeat(120)[..]);
        assert_eq!(parse(&b).unwrap(), h);
        // The same bytes under GNU magic: the prefix field is not part of the name.
        let mut g = b;
        g[257..265].copy_from_slice(GNU_MAGIC);
        g[148..156].copy_from_slice(b"        ");
        let (sum, _) = checksums(&g);
        g[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h.name = b"f".repeat(90);
        assert_eq!(parse(&g).unwrap().name, h.name);
    }

    #[test]
    fn v7_trailing_slash_is_a_directory() {
        let h = Header {
            name: b"dir/".to_vec(),
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            kind: Kind::File,
            link: Vec::new(),
            dev_major: 0,
            dev_minor: 0,
        };
        assert_eq!(parse(&encode(&h)).unwrap().kind, Kind::Dir);
    }

    #[test]
    fn devices_round_trip() {
        let h = Header {
            name: b"dev/null".to_vec(),
            mode: 0o666,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            kind: Kind::Char,
            link: Vec::new(),
            dev_major: 1,
            dev_minor: 3,
        };
        assert_eq!(parse(&encode(&h)).unwrap(), h);
    }

    #[test]
    fn split_names() {
        assert_eq!(split_name(b"a/b"), Some((&b""[..], &b"a/b"[..])));
        let long = [b"p".repeat(150), b"/".to_vec(), b"n".repeat(100)].concat();
        assert_eq!(split_name(&long), Some((&long[..150], &long[151..])));
        // No slash where a split would fit: pax needed.
        assert_eq!(split_name(&b"x".repeat(101)), None);
        let too_long = [b"p".repeat(156), b"/".to_vec(), b"n".repeat(10)].concat();
        assert_eq!(split_name(&too_long), None);
    }

    #[test]
    fn octal_fits_or_not() {
        let mut f = [0u8; 8];
        assert!(put_octal(&mut f, MAX_ID));
        assert_eq!(&f, b"7777777\0");
        assert!(!put_octal(&mut f, MAX_ID + 1));
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
