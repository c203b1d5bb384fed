//! The image name `import-oci` picks when none is given: the repository's last component of
//! the image's reference (`index.json`'s `io.containerd.image.name` or
//! `org.opencontainers.image.ref.name`, or `docker save`'s `RepoTags[0]`: `localhost/web:1`
//! is `web`), else the source's file name without
//! its archive suffix (`web.oci.tar.gz` is `web`). A bare reference (`latest`, `3.19`: what
//! skopeo's `oci:DIR:TAG` writes) is a tag, not a name, and is passed over.

use std::path::Path;

/// The repository's last component of an image reference, if it has a repository part.
pub fn from_reference(reference: &str) -> Option<String> {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    if !without_digest.contains(['/', ':']) {
        return None;
    }
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repo = last.split(':').next().unwrap_or(last);
    (!repo.is_empty()).then(|| repo.to_string())
}

/// Archive suffixes taken off a file name, longest first.
const SUFFIXES: [&str; 9] =
    [".tar.gz", ".tar.xz", ".tar.zst", ".tar.zstd", ".tgz", ".tar", ".oci", ".docker", ".archive"];

/// The source's file name without its archive suffixes.
pub fn from_path(source: &Path) -> Option<String> {
    let mut name = source.file_name()?.to_str()?.to_string();
    while let Some(s) = SUFFIXES.iter().find(|s| name.len() > s.len() && name.ends_with(*s)) {
        name.truncate(name.len() - s.len());
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_references() {
        for (r, want) in [
            ("localhost/oci-test:v1", Some("oci-test")),
            ("docker.io/library/alpine:3.19", Some("alpine")),
            ("registry:5000/team/app@sha256:0123", Some("app")),
            ("alpine:3.19", Some("alpine")),
            ("quay.io/x/y", Some("y")),
            ("latest", None),
            ("3.19", None),
            (":tag", None),
            ("a/", None),
        ] {
            assert_eq!(from_reference(r).as_deref(), want, "{r}");
        }
    }

    #[test]
    fn from_paths() {
        for (p, want) in [
            ("/srv/web.tar", Some("web")),
            ("web.oci.tar.gz", Some("web")),
            ("/srv/alpine-dir", Some("alpine-dir")),
            ("/srv/alpine-dir/", Some("alpine-dir")),
            ("x.tgz", Some("x")),
            (".tar", Some(".tar")),
            ("/", None),
        ] {
            assert_eq!(from_path(Path::new(p)).as_deref(), want, "{p}");
        }
    }
}
