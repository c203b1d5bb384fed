//! `spawnbox-completions DIR`: writes the bash and zsh completions of spawnbox and spawnctl,
//! generated from the library's tables (`spawnbox_tests::completions`), below DIR:
//! `bash/spawnbox`, `bash/spawnctl`, `zsh/_spawnbox`, `zsh/_spawnctl`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: spawnbox-completions DIR");
        return ExitCode::from(2);
    };
    for (rel, text) in spawnbox_tests::completions::scripts() {
        let path = PathBuf::from(dir).join(rel);
        let tmp = path.with_extension("tmp");
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            eprintln!("spawnbox-completions: write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
