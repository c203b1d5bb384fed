//! The hard-link map: which destination path the first link of a multiply linked inode got, so
//! that its later links are made with linkat(2) instead of being copied again.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

/// An inode of the source: (device, inode number).
pub(super) type InodeKey = (u64, u64);

/// The first destination path (relative to the destination root) of each inode with more than
/// one link, and how many of its links are still to come. An entry goes once its last link is
/// seen, so the map holds only inodes whose other links are ahead (or outside the tree).
#[derive(Default)]
pub(super) struct LinkMap {
    first: HashMap<InodeKey, (PathBuf, u32), BuildHasherDefault<InodeHasher>>,
}

/// Inode numbers are already well spread: a multiply-xorshift is hash enough (and smaller than
/// std's SipHash with random keys, which nothing else in spawnbox needs).
#[derive(Default)]
pub(super) struct InodeHasher(u64);

impl Hasher for InodeHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl LinkMap {
    /// Records that inode `key`, with `nlink` links, was copied to `path`.
    pub fn remember(&mut self, key: InodeKey, nlink: u32, path: &Path) {
        if nlink > 1 {
            self.first.insert(key, (path.to_path_buf(), nlink - 1));
        }
    }

    /// Where inode `key` was copied to, if it was; counts this link as seen.
    pub fn seen(&mut self, key: InodeKey) -> Option<PathBuf> {
        let (path, left) = self.first.get_mut(&key)?;
        *left = left.saturating_sub(1);
        if *left > 0 {
            return Some(path.clone());
        }
        self.first.remove(&key).map(|(p, _)| p)
    }

    /// Inodes still waiting for links.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.first.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_links_get_the_first_path_and_the_entry_goes_with_the_last() {
        let mut m = LinkMap::default();
        assert_eq!(m.seen((1, 7)), None);
        m.remember((1, 7), 3, Path::new("a/x"));
        assert_eq!(m.len(), 1);
        assert_eq!(m.seen((1, 7)), Some(PathBuf::from("a/x")));
        assert_eq!(m.len(), 1);
        assert_eq!(m.seen((1, 7)), Some(PathBuf::from("a/x")));
        assert_eq!(m.len(), 0);
        // A fourth link that appeared during the copy is copied again, as a new inode.
        assert_eq!(m.seen((1, 7)), None);
    }

    #[test]
    fn single_links_are_not_kept_and_devices_are_told_apart() {
        let mut m = LinkMap::default();
        m.remember((1, 7), 1, Path::new("one"));
        assert_eq!(m.len(), 0);
        m.remember((1, 7), 2, Path::new("dev1"));
        m.remember((2, 7), 2, Path::new("dev2"));
        assert_eq!(m.seen((2, 7)), Some(PathBuf::from("dev2")));
        assert_eq!(m.seen((1, 7)), Some(PathBuf::from("dev1")));
        assert_eq!(m.len(), 0);
    }
}
