//! The image configuration (image-spec `config.md`): what the image runs (`config.User`,
//! `Env`, `Entrypoint`, `Cmd`, `WorkingDir`, `StopSignal`), for which platform, and the
//! layers' uncompressed digests (`rootfs.diff_ids`). A pure function of the config's bytes.

use super::digest::Digest;
use super::layout::document;
use crate::error::Result;

/// What an image configuration says about running the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub architecture: Option<String>,
    pub os: Option<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub stop_signal: Option<String>,
    /// `rootfs.diff_ids`: the digests of the layers as uncompressed tars.
    pub diff_ids: Vec<Digest>,
}

/// Parses an image configuration; `what` names it in errors. Every field is optional (an
/// image built `FROM scratch` without instructions has an empty `config`).
pub fn parse(bytes: &[u8], what: &str) -> Result<ImageConfig> {
    let doc = document(bytes, what)?;
    let config = || -> Result<ImageConfig> {
        let root = doc.at();
        let text = |at: &crate::json::At<'_>, key: &str| -> Result<Option<String>> {
            at.opt(key)?.map(|v| v.str().map(str::to_string)).transpose()
        };
        let list = |at: &crate::json::At<'_>, key: &str| -> Result<Vec<String>> {
            Ok(match at.opt(key)? {
                Some(v) => v.strings()?.into_iter().map(str::to_string).collect(),
                None => Vec::new(),
            })
        };
        let mut c =
            ImageConfig { architecture: text(&root, "architecture")?, os: text(&root, "os")?, ..Default::default() };
        if let Some(cfg) = root.opt("config")? {
            c.user = text(&cfg, "User")?;
            c.env = list(&cfg, "Env")?;
            c.entrypoint = list(&cfg, "Entrypoint")?;
            c.cmd = list(&cfg, "Cmd")?;
            c.working_dir = text(&cfg, "WorkingDir")?;
            c.stop_signal = text(&cfg, "StopSignal")?;
        }
        if let Some(rootfs) = root.opt("rootfs")? {
            if let Some(ids) = rootfs.opt("diff_ids")? {
                for id in ids.items()? {
                    c.diff_ids.push(Digest::parse(id.str()?).map_err(|e| id.error(e))?);
                }
            }
        }
        Ok(c)
    };
    config().map_err(|e| e.context(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What podman 4.3 wrote for tests/oci_import.rs's Containerfile.
    const PODMAN: &str = r#"{"created":"2026-12-07T11:18:04.49537863Z","architecture":"amd64","os":"linux","config":{"User":"alice","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello world","EMPTY="],"Entrypoint":["/bin/echo","it's"],"Cmd":["a b","\"q\""],"WorkingDir":"/srv/data","Labels":{"io.buildah.version":"1.28.2"}},"rootfs":{"type":"layers","diff_ids":["sha256:a1fdf2651c809a7e16fb24c6eab50fc3a660934fe2f69ee41a3e4f341f23083a","sha256:b55f22bc65d7dbf64039135d73e88f22b8203e124ef37b89a1b899efb5607b1e"]},"history":[]}"#;

    #[test]
    fn podman_config() {
        let c = parse(PODMAN.as_bytes(), "config").unwrap();
        assert_eq!((c.architecture.as_deref(), c.os.as_deref()), (Some("amd64"), Some("linux")));
        assert_eq!(c.user.as_deref(), Some("alice"));
        assert_eq!(c.env[1], "GREETING=hello world");
        assert_eq!(c.entrypoint, ["/bin/echo", "it's"]);
        assert_eq!(c.cmd, ["a b", "\"q\""]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv/data"));
        assert_eq!(c.stop_signal, None);
        assert_eq!(c.diff_ids.len(), 2);
        assert_eq!(c.diff_ids[1].hex(), "b55f22bc65d7dbf64039135d73e88f22b8203e124ef37b89a1b899efb5607b1e");
    }

    #[test]
    fn empty_and_null_fields() {
        assert_eq!(parse(b"{}", "c").unwrap(), ImageConfig::default());
        let c = parse(br#"{"config":{"Cmd":null,"Entrypoint":null,"Env":null,"User":""}}"#, "c").unwrap();
        assert_eq!((c.cmd.len(), c.entrypoint.len(), c.user.as_deref()), (0, 0, Some("")));
    }

    #[test]
    fn errors_name_the_field() {
        for (json, want) in [
            (r#"{"config":{"Cmd":"sh"}}"#, "c: config.Cmd: expected an array, found a string"),
            (r#"{"config":{"Env":["A=1",2]}}"#, "c: config.Env[1]: expected a string, found a number"),
            (r#"{"config":{"User":0}}"#, "c: config.User: expected a string, found a number"),
            (
                r#"{"rootfs":{"diff_ids":["sha256:../x"]}}"#,
                "c: rootfs.diff_ids[0]: invalid sha256 digest \"sha256:../x\"",
            ),
            (r#"[]"#, "c: expected an object, found an array"),
        ] {
            assert_eq!(parse(json.as_bytes(), "c").unwrap_err().to_string(), want);
        }
    }
}
