//! `docker save` archives (Docker's image format v1.2; also what `podman save --format
//! docker-archive` writes): `manifest.json` names the config file and the layer tars by path
//! (`<id>/layer.tar`, `<hex>.tar`, or `blobs/sha256/<hex>` since Docker 25). The paths are
//! checked (relative, no `.`, `..` or empty components) before they name a member; the config
//! is verified against the digest its name carries, each layer against the config's
//! `rootfs.diff_ids` (the digest of the uncompressed tar).

use super::digest::Digest;
use super::layout::{document, LAYER_MAX};
use crate::error::{Error, Result};
use crate::json::{self, At};

/// The image a `manifest.json` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerImage {
    /// The config file's path in the archive, and the digest its name gives.
    pub config: String,
    pub config_digest: Digest,
    /// The layer tars' paths, bottom first.
    pub layers: Vec<String>,
    /// `RepoTags[0]` (`localhost/web:1`).
    pub repo_tag: Option<String>,
}

/// A path inside the archive: relative, `/`-separated normal components, at most 4096 bytes.
pub fn member_path(at: &At<'_>) -> Result<String> {
    let s = at.str()?;
    let normal = |c: &str| !c.is_empty() && c != "." && c != "..";
    if s.len() > 4096 || s.contains('\0') || !s.split('/').all(normal) {
        return Err(at.error(format!("not a plain relative path: {}", json::quote(s))));
    }
    Ok(s.to_string())
}

/// The digest a config file's name carries: `HEX.json` (the image ID) or `blobs/sha256/HEX`.
fn config_digest(path: &str) -> Option<Digest> {
    let name = path.rsplit('/').next().unwrap_or(path);
    match path.strip_suffix(name) {
        Some("blobs/sha256/") => Digest::from_hex(name),
        _ => name.strip_suffix(".json").and_then(Digest::from_hex),
    }
}

/// `manifest.json`: exactly one image.
pub fn parse_manifest_json(bytes: &[u8]) -> Result<DockerImage> {
    let what = "manifest.json";
    let doc = document(bytes, what)?;
    let image = || -> Result<DockerImage> {
        let images = doc.at().items()?;
        let entry = match images.as_slice() {
            [one] => one,
            [] => return Err(Error::msg("no image")),
            many => {
                return Err(Error::msg(format!("{} images: import-oci takes an archive that holds one", many.len())))
            }
        };
        let c = entry.req("Config")?;
        let config = member_path(&c)?;
        let config_digest = config_digest(&config)
            .ok_or_else(|| c.error(format!("no digest in the config's name {}", json::quote(&config))))?;
        let items = entry.req("Layers")?.items()?;
        if items.is_empty() {
            return Err(Error::msg("no layers"));
        }
        if items.len() > LAYER_MAX {
            return Err(Error::msg(format!("{} layers, more than {LAYER_MAX}", items.len())));
        }
        let layers = items.iter().map(member_path).collect::<Result<Vec<_>>>()?;
        let repo_tag = match entry.opt("RepoTags")? {
            Some(tags) => tags.strings()?.first().map(|s| s.to_string()),
            None => None,
        };
        Ok(DockerImage { config, config_digest, layers, repo_tag })
    };
    image().map_err(|e| e.context(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a1fdf2651c809a7e16fb24c6eab50fc3a660934fe2f69ee41a3e4f341f23083a";
    const C: &str = "c01cd392f40bef67fece4ed943b251ba16ad39641a950a8d1eee6fe8e5744086";

    #[test]
    fn podman_and_docker_forms() {
        // `podman save --format docker-archive`.
        let m = format!(
            r#"[{{"Config":"{C}.json","RepoTags":["localhost/oci-test:v1"],"Layers":["{A}.tar","{C}/layer.tar"]}}]"#
        );
        let i = parse_manifest_json(m.as_bytes()).unwrap();
        assert_eq!(i.config, format!("{C}.json"));
        assert_eq!(i.config_digest.hex(), C);
        assert_eq!(i.layers, [format!("{A}.tar"), format!("{C}/layer.tar")]);
        assert_eq!(i.repo_tag.as_deref(), Some("localhost/oci-test:v1"));
        // Docker 25: blobs in an OCI layout, no tags.
        let m = format!(r#"[{{"Config":"blobs/sha256/{C}","RepoTags":null,"Layers":["blobs/sha256/{A}"]}}]"#);
        let i = parse_manifest_json(m.as_bytes()).unwrap();
        assert_eq!((i.config_digest.hex(), i.repo_tag), (C, None));
    }

    #[test]
    fn hostile_or_broken() {
        let one = |config: &str, layers: &str| format!(r#"[{{"Config":{config},"Layers":{layers}}}]"#);
        let cfg = format!("\"{C}.json\"");
        for (m, want) in [
            (one(&cfg, r#"["../x.tar"]"#), "manifest.json: [0].Layers[0]: not a plain relative path: \"../x.tar\""),
            (
                one(&cfg, r#"["/etc/shadow"]"#),
                "manifest.json: [0].Layers[0]: not a plain relative path: \"/etc/shadow\"",
            ),
            (one(&cfg, r#"["a//b"]"#), "manifest.json: [0].Layers[0]: not a plain relative path: \"a//b\""),
            (one(&cfg, r#"["a/./b"]"#), "manifest.json: [0].Layers[0]: not a plain relative path: \"a/./b\""),
            (one(&cfg, "[]"), "manifest.json: no layers"),
            (one(&cfg, "[1]"), "manifest.json: [0].Layers[0]: expected a string, found a number"),
            (
                one("\"config.json\"", r#"["l.tar"]"#),
                "manifest.json: [0].Config: no digest in the config's name \"config.json\"",
            ),
            (
                one(&format!("\"blobs/sha512/{C}\""), r#"["l.tar"]"#),
                "manifest.json: [0].Config: no digest in the config's name",
            ),
            (
                format!(r#"[{{"Config":{cfg},"Layers":["l"]}},{{"Config":{cfg},"Layers":["m"]}}]"#),
                "manifest.json: 2 images: import-oci takes an archive that holds one",
            ),
            ("[]".to_string(), "manifest.json: no image"),
            ("{}".to_string(), "manifest.json: expected an array, found an object"),
            ("[{\"Layers\":[\"l\"]}]".to_string(), "manifest.json: [0]: missing \"Config\""),
            ("[".to_string(), "manifest.json: not JSON: line 1 column 2 (byte 1): expected a value (end of input)"),
        ] {
            let e = parse_manifest_json(m.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with(want), "{m}\n got: {e}\nwant: {want}");
        }
    }
}
