//! spawnctl's image verbs, as machinectl prints them: `list-images`, `image-status`,
//! `show-image`, `read-only`, `rename`, `remove`.

use super::args::Options;
use super::show::{self, Cell};
use crate::error::Result;
use crate::image::{self, HostProbe, Image};
use rustix::fs::{statx, AtFlags, StatxFlags, CWD};

/// What `stat` tells about an image: creation and modification time (µs), disk usage.
struct Facts {
    created: Option<u64>,
    modified: Option<u64>,
    usage: Option<u64>,
}

fn facts(i: &Image) -> Facts {
    let want = StatxFlags::BTIME | StatxFlags::MTIME | StatxFlags::BLOCKS;
    let Ok(st) = statx(CWD, &i.path, AtFlags::empty(), want) else {
        return Facts { created: None, modified: None, usage: None };
    };
    let us = |t: rustix::fs::StatxTimestamp| {
        u64::try_from(t.tv_sec).ok().map(|s| s * 1_000_000 + u64::from(t.tv_nsec) / 1000)
    };
    let has = |f: StatxFlags| StatxFlags::from_bits_retain(st.stx_mask).contains(f);
    Facts {
        created: if has(StatxFlags::BTIME) { us(st.stx_btime) } else { None },
        modified: us(st.stx_mtime),
        // As machinectl: a directory's usage is not known without a quota.
        usage: (i.kind == image::Kind::Raw).then_some(st.stx_blocks * 512),
    }
}

/// `list-images`: NAME TYPE RO USAGE CREATED MODIFIED.
pub fn list_images(o: &Options) -> Result<String> {
    let rows: Vec<Vec<Cell>> = image::list(&HostProbe, o.all)
        .iter()
        .map(|i| {
            let f = facts(i);
            vec![
                Cell::Text(i.name.clone()),
                Cell::Text(i.kind.name().to_string()),
                Cell::Bool(i.read_only),
                Cell::Bytes(f.usage),
                Cell::Time(f.created),
                Cell::Time(f.modified),
            ]
        })
        .collect();
    let header = ["NAME", "TYPE", "RO", "USAGE", "CREATED", "MODIFIED"];
    Ok(show::table(&header, &rows, "images", o.output, !o.no_legend))
}

/// The `show-image` properties, in machinectl's names and order.
fn props(i: &Image) -> Vec<(&'static str, String)> {
    let f = facts(i);
    let num = |v: Option<u64>| v.map_or_else(|| "[not set]".to_string(), |n| n.to_string());
    vec![
        ("Name", i.name.clone()),
        ("Path", i.path.display().to_string()),
        ("Type", i.kind.name().to_string()),
        ("ReadOnly", (if i.read_only { "yes" } else { "no" }).to_string()),
        ("CreationTimestamp", f.created.map_or_else(String::new, show::format_timestamp)),
        ("ModificationTimestamp", f.modified.map_or_else(String::new, show::format_timestamp)),
        ("Usage", num(f.usage)),
        ("Limit", "[not set]".to_string()),
    ]
}

/// `show-image NAME...`: `Key=value` per line, images separated by an empty line.
pub fn show_image(o: &Options, names: &[String]) -> Result<String> {
    let images = names.iter().map(|n| image::get(n)).collect::<Result<Vec<_>>>()?;
    let blocks: Vec<String> = images.iter().map(|i| show::properties(&props(i), &o.properties, o.value)).collect();
    Ok(blocks.join("\n"))
}

/// `image-status NAME...`: the status block machinectl prints.
pub fn image_status(names: &[String]) -> Result<String> {
    let mut out = Vec::new();
    for n in names {
        let i = image::get(n)?;
        let f = facts(&i);
        let mut s = format!("{}\n", i.name);
        let mut line = |k: &str, v: String| s.push_str(&format!("{k:>17}: {v}\n"));
        line("Type", i.kind.name().to_string());
        line("Path", i.path.display().to_string());
        line("RO", (if i.read_only { "read-only" } else { "writable" }).to_string());
        if let Some(t) = f.created {
            line("Created", show::format_timestamp(t));
        }
        if let Some(t) = f.modified {
            line("Modified", show::format_timestamp(t));
        }
        if let Some(u) = f.usage {
            line("Usage", show::format_bytes(u));
        }
        let users = image::users(&i);
        if !users.is_empty() {
            line("Used by", users.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" "));
        }
        out.push(s);
    }
    Ok(out.join("\n"))
}

/// `read-only NAME [BOOL]` (default yes).
pub fn read_only(args: &[String]) -> Result<()> {
    let i = image::get(&args[0])?;
    let value = match args.get(1) {
        None => true,
        Some(v) => crate::cli::values::parse_bool(v).map_err(|e| e.context(format!("read-only {v}")))?,
    };
    image::set_read_only(&i, value)
}

/// `rename NAME NEWNAME`.
pub fn rename(args: &[String]) -> Result<()> {
    image::rename(&image::get(&args[0])?, &args[1])
}

/// `remove NAME...`: all names are checked before any image is removed.
pub fn remove(names: &[String]) -> Result<()> {
    let images = names.iter().map(|n| image::get(n)).collect::<Result<Vec<_>>>()?;
    for i in &images {
        image::remove(i)?;
    }
    Ok(())
}

/// `clone NAME NEW [--read-only]`.
pub fn clone(o: &Options, args: &[String]) -> Result<()> {
    let made = image::clone(&image::get(&args[0])?, &args[1])?;
    if o.read_only {
        image::set_read_only(&made, true)?;
    }
    Ok(())
}

/// `import-fs DIRECTORY [NAME] [--read-only] [--force]`: NAME defaults to the directory's name.
pub fn import_fs(o: &Options, args: &[String]) -> Result<()> {
    let source = std::path::Path::new(&args[0]);
    let name = match args.get(1) {
        Some(n) => n.clone(),
        None => source.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
            crate::error::Error::msg(format!("{}: cannot name an image after it: give NAME", args[0]))
        })?,
    };
    let made = image::copy_in(source, &name, o.force)?;
    if o.read_only {
        image::set_read_only(&made, true)?;
    }
    Ok(())
}

/// `export-fs NAME DIRECTORY`: a copy of the image at DIRECTORY, which must not exist.
pub fn export_fs(args: &[String]) -> Result<()> {
    let i = image::get(&args[0])?;
    let dest = std::path::Path::new(&args[1]);
    match crate::template::create(dest, &i.path)? {
        Some(_) => Ok(()),
        None => Err(crate::error::Error::msg(format!("{}: already exists", dest.display()))),
    }
}

/// `import-oci SOURCE [NAME] [--read-only] [--force]`: an OCI image layout (directory or
/// archive) or a `docker save` tarball as image NAME, with `NAME.nspawn` next to it. What the
/// user should know goes to stderr.
#[cfg(feature = "images")]
pub fn import_oci(o: &Options, args: &[String]) -> Result<()> {
    let opts = crate::oci_image::Options { read_only: o.read_only, force: o.force };
    let made = crate::oci_image::import(std::path::Path::new(&args[0]), args.get(1).map(String::as_str), opts)?;
    for w in &made.warnings {
        eprintln!("spawnctl: warning: {w}");
    }
    if !o.quiet {
        eprintln!(
            "spawnctl: imported image \"{}\" ({} layers, {} whiteouts), settings in {}",
            made.image.name,
            made.layers,
            made.whiteouts,
            made.settings.display()
        );
    }
    Ok(())
}
