//! What an entry's name means inside the image: the containment decisions, as data.
//!
//! - A leading `/` is dropped (`/etc/x` is `etc/x`), as GNU tar does: contained.
//! - `.` components and empty ones (`a//b`, `./a`) are dropped; `.`, `./` and `/` name the
//!   image's root directory itself.
//! - A `..` component anywhere refuses the whole archive: such a name is made to leave the
//!   tree, and no honest tool writes one.
//! - An empty name or one with a NUL byte (possible in pax records) is refused.
//!
//! Hard link targets follow the same rules. Symlink targets are stored as they are: a symlink
//! is never followed while extracting (see `extract.rs`), so where it points does not matter.

/// Why a name is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    Empty,
    DotDot,
    Nul,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty name",
            NameError::DotDot => "name contains \"..\"",
            NameError::Nul => "name contains a NUL byte",
        })
    }
}

/// The components of `name` inside the image; empty for the image's root.
pub fn components(name: &[u8]) -> Result<Vec<&[u8]>, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains(&0) {
        return Err(NameError::Nul);
    }
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(NameError::DotDot),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The entry as an OCI layer means it (image-spec `layer.md`, "Whiteouts").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// Not a whiteout: extract it.
    None,
    /// `.wh.NAME`: remove NAME (of a lower layer) from the directory.
    Remove(&'a [u8]),
    /// `.wh..wh..opq`: the directory hides everything lower layers put in it.
    Opaque,
    /// Any other `.wh..wh.*` (aufs metadata such as `.wh..wh.plnk`): skipped.
    Meta,
}

/// Classifies the last component of an entry in OCI layer mode.
pub fn whiteout(last: &[u8]) -> Result<Whiteout<'_>, NameError> {
    if last == b".wh..wh..opq" {
        return Ok(Whiteout::Opaque);
    }
    if last.starts_with(b".wh..wh.") {
        return Ok(Whiteout::Meta);
    }
    match last.strip_prefix(b".wh.") {
        None => Ok(Whiteout::None),
        Some(b"") => Err(NameError::Empty),
        Some(b".") | Some(b"..") => Err(NameError::DotDot),
        Some(name) => Ok(Whiteout::Remove(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_table() {
        type Want = Result<&'static [&'static str], NameError>;
        let table: &[(&str, Want)] = &[
            ("etc/passwd", Ok(&["etc", "passwd"])),
            ("./etc/passwd", Ok(&["etc", "passwd"])),
            ("/etc/passwd", Ok(&["etc", "passwd"])),
            ("///etc//passwd/", Ok(&["etc", "passwd"])),
            ("etc/./passwd", Ok(&["etc", "passwd"])),
            ("dir/", Ok(&["dir"])),
            ("a.b/..c/...", Ok(&["a.b", "..c", "..."])),
            (".", Ok(&[])),
            ("./", Ok(&[])),
            ("/", Ok(&[])),
            ("", Err(NameError::Empty)),
            ("..", Err(NameError::DotDot)),
            ("../../etc/x", Err(NameError::DotDot)),
            ("/../etc/x", Err(NameError::DotDot)),
            ("a/../../x", Err(NameError::DotDot)),
            ("a/..", Err(NameError::DotDot)),
            ("a/b/../c", Err(NameError::DotDot)),
            ("a\0b", Err(NameError::Nul)),
        ];
        for (name, want) in table {
            let got = components(name.as_bytes())
                .map(|v| v.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>());
            let want = want.map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{name:?}");
        }
    }

    #[test]
    fn whiteout_table() {
        let table: &[(&str, Result<Whiteout<'static>, NameError>)] = &[
            ("file", Ok(Whiteout::None)),
            (".wh", Ok(Whiteout::None)),
            (".whx", Ok(Whiteout::None)),
            (".wh.file", Ok(Whiteout::Remove(b"file"))),
            (".wh..hidden", Ok(Whiteout::Remove(b".hidden"))),
            (".wh..wh..opq", Ok(Whiteout::Opaque)),
            (".wh..wh.plnk", Ok(Whiteout::Meta)),
            (".wh.", Err(NameError::Empty)),
            (".wh..", Err(NameError::DotDot)),
            (".wh...", Err(NameError::DotDot)),
        ];
        for (name, want) in table {
            assert_eq!(whiteout(name.as_bytes()), *want, "{name:?}");
        }
    }
}
