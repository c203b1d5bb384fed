//! The layout files as podman writes them, the manifest for each architecture, and hostile or
//! broken documents with their exact errors.

use super::*;

const M: &str = "9cd3d226449945a965be599ebe2fd282938004e83a3433434f6e5a3c0d872f4e";
const C: &str = "c01cd392f40bef67fece4ed943b251ba16ad39641a950a8d1eee6fe8e5744086";
const L1: &str = "d30f712d0dd7278ae4f3efb3f27abf8458dd452beb377ac36300f5d4f2566a40";
const L2: &str = "a602e374cbe2e44748897ea71ad8e7664580faef8efc9f4cae95ff88c1195373";

/// podman 4.3's `index.json` and manifest for tests/oci_import.rs's image.
fn podman_index() -> String {
    format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{M}","size":745,"annotations":{{"org.opencontainers.image.ref.name":"localhost/oci-test:v1"}}}}]}}"#
    )
}

fn podman_manifest() -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{C}","size":1711}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{L1}","size":1087802}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{L2}","size":296}}],"annotations":{{"org.opencontainers.image.base.name":"localhost/base:1"}}}}"#
    )
}

#[test]
fn podman_layout() {
    check_layout_marker(br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    let entries = parse_index(podman_index().as_bytes(), "index.json").unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].ref_name.as_deref(), Some("localhost/oci-test:v1"));
    assert_eq!(entries[0].expect().size, Some(745));
    let Entry::Manifest(d) = pick(&entries, "amd64", "index.json").unwrap() else { panic!("not a manifest") };
    assert_eq!(d.digest.blob_path(), format!("blobs/sha256/{M}"));
    // Docker 25's docker save: the tag as ref.name, the full name as containerd's.
    let docker = format!(
        r#"{{"schemaVersion":2,"mediaType":"{INDEX_OCI}","manifests":[{{"mediaType":"{MANIFEST_OCI}","digest":"sha256:{M}","size":745,"annotations":{{"io.containerd.image.name":"docker.io/library/busybox:latest","{REF_NAME}":"latest"}}}}]}}"#
    );
    let entries = parse_index(docker.as_bytes(), "index.json").unwrap();
    assert_eq!(entries[0].ref_name.as_deref(), Some("docker.io/library/busybox:latest"));
    let m = parse_manifest(podman_manifest().as_bytes(), "manifest").unwrap();
    assert_eq!(m.config.digest.hex(), C);
    assert_eq!((m.config.size, m.layers.len(), m.layers[1].size), (1711, 2, 296));
    assert_eq!(m.layers[0].digest.hex(), L1);
}

fn entry(media: &str, digest: &str, platform: Option<(&str, &str)>, name: Option<&str>) -> String {
    let mut e = format!(r#"{{"mediaType":"{media}","digest":"sha256:{digest}","size":1"#);
    if let Some((os, arch)) = platform {
        e.push_str(&format!(r#","platform":{{"os":"{os}","architecture":"{arch}","variant":"v8"}}"#));
    }
    if let Some(n) = name {
        e.push_str(&format!(r#","annotations":{{"{REF_NAME}":"{n}"}}"#));
    }
    e + "}"
}

fn index(entries: &[String]) -> Vec<Descriptor> {
    let doc = format!(r#"{{"schemaVersion":2,"mediaType":"{INDEX_OCI}","manifests":[{}]}}"#, entries.join(","));
    parse_index(doc.as_bytes(), "index.json").unwrap()
}

#[test]
fn the_manifest_for_this_architecture() {
    let multi = index(&[
        entry(MANIFEST_OCI, L1, Some(("linux", "arm64")), None),
        entry(MANIFEST_OCI, L2, Some(("linux", "amd64")), None),
        entry(MANIFEST_DOCKER, M, Some(("linux", "arm")), None),
        // buildx's attestation manifests.
        entry(MANIFEST_OCI, C, Some(("unknown", "unknown")), None),
    ]);
    for (arch, want) in [("amd64", L2), ("arm64", L1), ("arm", M)] {
        match pick(&multi, arch, "index.json").unwrap() {
            Entry::Manifest(d) => assert_eq!(d.digest.hex(), want, "{arch}"),
            e => panic!("{e:?}"),
        }
    }
    assert_eq!(
        pick(&multi, "s390x", "index.json").unwrap_err().to_string(),
        "index.json: no image for linux/s390x (it lists: linux/arm64, linux/amd64, linux/arm, unknown/unknown)"
    );
    // skopeo copy --all: index.json points to an index.
    let outer = index(&[entry(INDEX_OCI, C, None, Some("3.19"))]);
    assert!(matches!(pick(&outer, "amd64", "index.json").unwrap(), Entry::Index(d) if d.digest.hex() == C));
    let docker_list = index(&[entry(INDEX_DOCKER, C, None, None)]);
    assert!(matches!(pick(&docker_list, "amd64", "index.json").unwrap(), Entry::Index(_)));
    // Two tags in one layout: refused, the names listed.
    let two = index(&[entry(MANIFEST_OCI, L1, None, Some("a:1")), entry(MANIFEST_OCI, L2, None, None)]);
    assert_eq!(
        pick(&two, "amd64", "index.json").unwrap_err().to_string(),
        format!("index.json: 2 images for linux/amd64 (a:1, sha256:{L2}): import-oci takes a layout that holds one")
    );
    // Other media types (artifacts) are not images.
    let other = index(&[entry("application/vnd.oci.artifact.manifest.v1+json", L1, None, None)]);
    assert_eq!(
        pick(&other, "amd64", "x").unwrap_err().to_string(),
        "x: no image for linux/amd64 (it lists: application/vnd.oci.artifact.manifest.v1+json)"
    );
    assert_eq!(pick(&[], "amd64", "x").unwrap_err().to_string(), "x: no image for linux/amd64 (it lists: nothing)");
    assert!(["amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "loong64"].contains(&native_architecture()));
}

#[test]
fn hostile_or_broken_documents() {
    let idx = |manifests: &str| format!(r#"{{"schemaVersion":2,"manifests":[{manifests}]}}"#);
    for (doc, want) in [
        (
            idx(r#"{"mediaType":"m","digest":"sha256:../../etc/passwd","size":1}"#),
            "index.json: manifests[0].digest: invalid sha256 digest \"sha256:../../etc/passwd\"",
        ),
        (
            idx(&format!(r#"{{"mediaType":"m","digest":"sha256:{M}","size":-5}}"#)),
            "index.json: manifests[0]: negative size -5",
        ),
        (
            idx(&format!(r#"{{"mediaType":"m","digest":"sha256:{M}","size":"5"}}"#)),
            "index.json: manifests[0].size: expected an integer, found a string",
        ),
        (
            idx(&format!(r#"{{"mediaType":"m","digest":"md5:{M}","size":5}}"#)),
            "index.json: manifests[0].digest: unsupported digest algorithm \"md5\"",
        ),
        (idx(&format!(r#"{{"digest":"sha256:{M}","size":5}}"#)), "index.json: manifests[0]: missing \"mediaType\""),
        (
            r#"{"schemaVersion":1,"manifests":[]}"#.to_string(),
            "index.json: schemaVersion: unsupported schema version 1",
        ),
        (r#"{"manifests":[]}"#.to_string(), "index.json: missing \"schemaVersion\""),
        (
            format!(r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_OCI}","manifests":[]}}"#),
            "index.json: mediaType: not an image index",
        ),
        (
            "{\"schemaVersion\":2,".to_string(),
            "index.json: not JSON: line 1 column 20 (byte 19): expected a string key (end of input)",
        ),
    ] {
        let e = parse_index(doc.as_bytes(), "index.json").unwrap_err().to_string();
        assert!(e.starts_with(want), "{doc}\n got: {e}\nwant: {want}");
    }

    let man = |config: &str, layers: &str| format!(r#"{{"schemaVersion":2,"config":{config},"layers":[{layers}]}}"#);
    let cfg = format!(r#"{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{C}","size":3}}"#);
    let layer = |media: &str, digest: &str| format!(r#"{{"mediaType":"{media}","digest":"{digest}","size":3}}"#);
    let good = layer("application/vnd.oci.image.layer.v1.tar", &format!("sha256:{L1}"));
    assert_eq!(parse_manifest(man(&cfg, &good).as_bytes(), "m").unwrap().layers.len(), 1);
    for (doc, want) in [
        (
            man(&cfg, &layer("application/vnd.oci.image.layer.v1.tar", "sha256:../x")),
            "m: layers[0].digest: invalid sha256 digest \"sha256:../x\"",
        ),
        (
            man(&cfg, &layer("application/vnd.in-toto+json", &format!("sha256:{L1}"))),
            "m: layers[0]: unsupported layer media type \"application/vnd.in-toto+json\"",
        ),
        (man(&cfg, ""), "m: no layers"),
        (man(&cfg, &vec![good.clone(); LAYER_MAX + 1].join(",")), "m: 4097 layers, more than 4096"),
        (
            man(
                &format!(
                    r#"{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:{C}","size":3}}"#
                ),
                &good,
            ),
            "m: config: not a container image: config of type \"application/vnd.cncf.helm.config.v1+json\"",
        ),
        (
            format!(r#"{{"schemaVersion":2,"mediaType":"{INDEX_OCI}","config":{cfg},"layers":[{good}]}}"#),
            "m: mediaType: not an image manifest",
        ),
        (format!(r#"{{"schemaVersion":2,"layers":[{good}]}}"#), "m: missing \"config\""),
    ] {
        let e = parse_manifest(doc.as_bytes(), "m").unwrap_err().to_string();
        assert!(e.starts_with(want), "got: {e}\nwant: {want}");
    }
    for (marker, want) in [
        (
            &br#"{"imageLayoutVersion":"2.0.0"}"#[..],
            "oci-layout: imageLayoutVersion: unsupported image layout version \"2.0.0\"",
        ),
        (b"{}", "oci-layout: missing \"imageLayoutVersion\""),
        (b"", "oci-layout: not JSON: line 1 column 1 (byte 0): expected a value (end of input)"),
    ] {
        assert_eq!(check_layout_marker(marker).unwrap_err().to_string(), want);
    }
}
