//! Reading /proc/self/mountinfo for the shutdown unmount pass: mount points (with the
//! kernel's octal escapes undone) and file system types, newest mount first.

use core::ffi::CStr;

/// One mount: its mount point as the kernel escaped it, and its file system type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountEntry<'a> {
    pub point: &'a [u8],
    pub fstype: &'a [u8],
}

/// Parse one line of mountinfo(5):
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
pub fn parse_line(line: &[u8]) -> Option<MountEntry<'_>> {
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let point = fields.nth(4)?;
    // Optional fields end with a lone "-"; the file system type follows it.
    let fstype = fields.skip_while(|f| *f != b"-").nth(1)?;
    Some(MountEntry { point, fstype })
}

/// The mounts in `text`, last mounted first (the order to unmount them in).
pub fn entries_rev(text: &[u8]) -> impl Iterator<Item = MountEntry<'_>> {
    text.rsplit(|&b| b == b'\n').filter_map(parse_line)
}

/// Undo the kernel's escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash)
/// into `buf`, NUL-terminated.
pub fn unescape<'b>(raw: &[u8], buf: &'b mut [u8; 4096]) -> Option<&'b CStr> {
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        let mut b = *raw.get(i)?;
        if b == b'\\' {
            let oct = raw.get(i + 1..i + 4)?;
            if !oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                return None;
            }
            let v = oct.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            b = u8::try_from(v).ok()?;
            i += 3;
        }
        if b == 0 {
            return None;
        }
        *buf.get_mut(n)? = b;
        n += 1;
        i += 1;
    }
    *buf.get_mut(n)? = 0;
    CStr::from_bytes_with_nul(buf.get(..=n)?).ok()
}

/// File systems without backing store: nothing to flush, so they are left mounted (and
/// /proc must stay to read this file again).
pub fn is_virtual(fstype: &[u8]) -> bool {
    const VIRTUAL: [&[u8]; 22] = [
        b"proc",
        b"sysfs",
        b"devtmpfs",
        b"devpts",
        b"tmpfs",
        b"ramfs",
        b"rootfs",
        b"cgroup",
        b"cgroup2",
        b"securityfs",
        b"debugfs",
        b"tracefs",
        b"pstore",
        b"bpf",
        b"mqueue",
        b"hugetlbfs",
        b"configfs",
        b"fusectl",
        b"efivarfs",
        b"binfmt_misc",
        b"autofs",
        b"nsfs",
    ];
    VIRTUAL.contains(&fstype)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"\
22 1 0:21 / / rw - rootfs rootfs rw
23 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
24 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=1k
30 22 8:1 / /mnt/my\\040disk rw,relatime shared:7 master:1 - ext4 /dev/sda1 rw
31 30 0:40 / /mnt/my\\040disk/ov rw - overlay overlay rw,lowerdir=/a
";

    #[test]
    fn newest_first() {
        let v: Vec<_> = entries_rev(SAMPLE).collect();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0], MountEntry { point: b"/mnt/my\\040disk/ov", fstype: b"overlay" });
        assert_eq!(v[1], MountEntry { point: b"/mnt/my\\040disk", fstype: b"ext4" });
        assert_eq!(v[4], MountEntry { point: b"/", fstype: b"rootfs" });
    }

    #[test]
    fn broken_lines_are_skipped() {
        assert_eq!(parse_line(b"22 1 0:21 / /x rw"), None);
        assert_eq!(parse_line(b""), None);
        assert_eq!(parse_line(b"1 2 3 4"), None);
    }

    #[test]
    fn escapes() {
        let mut b = [0u8; 4096];
        assert_eq!(unescape(b"/mnt/my\\040disk", &mut b).unwrap().to_bytes(), b"/mnt/my disk");
        assert_eq!(unescape(b"/a\\134b\\011c", &mut b).unwrap().to_bytes(), b"/a\\b\tc");
        assert!(unescape(b"/bad\\04", &mut b).is_none());
        assert!(unescape(b"/nul\\000", &mut b).is_none());
        assert!(unescape(&[b'a'; 4096], &mut b).is_none());
    }

    #[test]
    fn virtual_types() {
        assert!(is_virtual(b"proc") && is_virtual(b"tmpfs") && is_virtual(b"rootfs"));
        assert!(!is_virtual(b"ext4") && !is_virtual(b"overlay") && !is_virtual(b"vfat"));
    }
}
