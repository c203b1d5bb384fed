//! The OCI image layout's JSON files, as data (image-spec `image-layout.md`, `image-index.md`,
//! `manifest.md`): `oci-layout`, `index.json` and nested indexes (the manifest for this
//! machine's architecture picked), image manifests. Pure functions of bytes; what the
//! descriptors name is read and checked by `source.rs`.

use super::digest::{Digest, Expect};
use crate::error::{Error, Result};
use crate::json::{self, At};

pub const MANIFEST_OCI: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MANIFEST_DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const INDEX_OCI: &str = "application/vnd.oci.image.index.v1+json";
pub const INDEX_DOCKER: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const CONFIG_TYPES: [&str; 2] =
    ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];
/// The layer media types: tar, compressed or not (the compression is told by its magic).
const LAYER_TYPES: [&str; 8] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// systemd's `LAYER_MAX`.
pub const LAYER_MAX: usize = 4096;
/// The largest manifest, index or config read into memory (registries cap manifests at 4 MiB).
pub const JSON_MAX: u64 = 8 << 20;

/// The annotation that names an image in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's (and Docker 25's `docker save`) full image name, next to a `REF_NAME` that is
/// only the tag.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// `platform.os` and `platform.architecture` (index entries).
    pub platform: Option<(String, String)>,
    /// The image's reference: `annotations[CONTAINERD_NAME]`, else `annotations[REF_NAME]`.
    pub ref_name: Option<String>,
}

impl Descriptor {
    /// What the blob must be.
    pub fn expect(&self) -> Expect {
        Expect { digest: self.digest.clone(), size: Some(self.size) }
    }
}

/// An image manifest: the config blob and the layers, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// A JSON document, or an error naming `what` and the place.
pub fn document(bytes: &[u8], what: &str) -> Result<json::Value> {
    json::parse(bytes).map_err(|e| Error::msg(format!("{what}: not JSON: {e}")))
}

fn descriptor(at: &At<'_>) -> Result<Descriptor> {
    let digest = at.req("digest")?;
    let size = at.req("size")?.i64()?;
    let platform = match at.opt("platform")? {
        Some(p) => Some((p.req("os")?.str()?.to_string(), p.req("architecture")?.str()?.to_string())),
        None => None,
    };
    let ref_name = match at.opt("annotations")? {
        Some(a) => {
            let text = |key| -> Result<Option<String>> { a.opt(key)?.map(|r| r.str().map(str::to_string)).transpose() };
            text(CONTAINERD_NAME)?.or(text(REF_NAME)?)
        }
        None => None,
    };
    Ok(Descriptor {
        media_type: at.req("mediaType")?.str()?.to_string(),
        digest: Digest::parse(digest.str()?).map_err(|e| digest.error(e))?,
        size: u64::try_from(size).map_err(|_| at.error(format!("negative size {size}")))?,
        platform,
        ref_name,
    })
}

fn schema_version_2(root: &At<'_>) -> Result<()> {
    let v = root.req("schemaVersion")?;
    match v.u64()? {
        2 => Ok(()),
        n => Err(v.error(format!("unsupported schema version {n}"))),
    }
}

/// `oci-layout`: `{"imageLayoutVersion": "1.0.0"}` (any 1.x).
pub fn check_layout_marker(bytes: &[u8]) -> Result<()> {
    let what = "oci-layout";
    let doc = document(bytes, what)?;
    let v = doc.at().req("imageLayoutVersion").map_err(|e| e.context(what))?;
    let version = v.str().map_err(|e| e.context(what))?;
    if version != "1" && !version.starts_with("1.") {
        return Err(v.error(format!("unsupported image layout version {}", json::quote(version))).context(what));
    }
    Ok(())
}

/// The entries of an image index (`index.json`, or a nested index blob).
pub fn parse_index(bytes: &[u8], what: &str) -> Result<Vec<Descriptor>> {
    let doc = document(bytes, what)?;
    let index = || -> Result<Vec<Descriptor>> {
        let root = doc.at();
        schema_version_2(&root)?;
        if let Some(t) = root.opt("mediaType")? {
            if ![INDEX_OCI, INDEX_DOCKER].contains(&t.str()?) {
                return Err(t.error(format!("not an image index: {}", json::quote(t.str()?))));
            }
        }
        root.req("manifests")?.items()?.iter().map(descriptor).collect()
    };
    index().map_err(|e| e.context(what))
}

/// The Go name of this machine's architecture (the OCI `platform.architecture` values).
pub fn native_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other, // arm, s390x, riscv64, mips64, ...
    }
}

/// What an index entry leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Manifest(Descriptor),
    Index(Descriptor),
}

/// The one entry of `entries` (from `what`) for linux on `arch`: image manifests and nested
/// indexes whose platform is absent or matches. Several images for this platform (a layout
/// with more than one tag) are refused rather than one picked silently.
pub fn pick(entries: &[Descriptor], arch: &str, what: &str) -> Result<Entry> {
    let fits = |d: &&Descriptor| d.platform.as_ref().map_or(true, |(os, a)| os == "linux" && a == arch);
    let usable: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| [MANIFEST_OCI, MANIFEST_DOCKER, INDEX_OCI, INDEX_DOCKER].contains(&d.media_type.as_str()))
        .filter(fits)
        .collect();
    match usable.as_slice() {
        [] => {
            let have: Vec<String> = entries
                .iter()
                .map(|d| match &d.platform {
                    Some((os, a)) => format!("{os}/{a}"),
                    None => d.media_type.clone(),
                })
                .collect();
            Err(Error::msg(format!(
                "{what}: no image for linux/{arch} (it lists: {})",
                if have.is_empty() { "nothing".to_string() } else { have.join(", ") }
            )))
        }
        [one] if [INDEX_OCI, INDEX_DOCKER].contains(&one.media_type.as_str()) => Ok(Entry::Index((*one).clone())),
        [one] => Ok(Entry::Manifest((*one).clone())),
        many => {
            let names: Vec<String> =
                many.iter().map(|d| d.ref_name.clone().unwrap_or_else(|| d.digest.to_string())).collect();
            Err(Error::msg(format!(
                "{what}: {} images for linux/{arch} ({}): import-oci takes a layout that holds one",
                many.len(),
                names.join(", ")
            )))
        }
    }
}

/// An image manifest: its config descriptor and layers (at least one, at most [`LAYER_MAX`]),
/// of the media types a container image has.
pub fn parse_manifest(bytes: &[u8], what: &str) -> Result<Manifest> {
    let doc = document(bytes, what)?;
    let manifest = || -> Result<Manifest> {
        let root = doc.at();
        schema_version_2(&root)?;
        if let Some(t) = root.opt("mediaType")? {
            if ![MANIFEST_OCI, MANIFEST_DOCKER].contains(&t.str()?) {
                return Err(t.error(format!("not an image manifest: {}", json::quote(t.str()?))));
            }
        }
        let c = root.req("config")?;
        let config = descriptor(&c)?;
        if !CONFIG_TYPES.contains(&config.media_type.as_str()) {
            return Err(c.error(format!("not a container image: config of type {}", json::quote(&config.media_type))));
        }
        let items = root.req("layers")?.items()?;
        if items.is_empty() {
            return Err(Error::msg("no layers"));
        }
        if items.len() > LAYER_MAX {
            return Err(Error::msg(format!("{} layers, more than {LAYER_MAX}", items.len())));
        }
        let mut layers = Vec::with_capacity(items.len());
        for l in &items {
            let d = descriptor(l)?;
            if !LAYER_TYPES.contains(&d.media_type.as_str()) {
                return Err(l.error(format!("unsupported layer media type {}", json::quote(&d.media_type))));
            }
            layers.push(d);
        }
        Ok(Manifest { config, layers })
    };
    manifest().map_err(|e| e.context(what))
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
