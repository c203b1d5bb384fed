//! NAME.nspawn: golden text, and every rendering parsed back through the settings-file parser
//! to the image's exact values.

use super::*;
use crate::settings::file::parse;
use crate::settings::{SettingsMask, StartMode};
use std::path::Path;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:alice\nalice:x:1000:\n";
const USERS: Users<'static> = Users { passwd: PASSWD, group: GROUP };

fn config() -> ImageConfig {
    ImageConfig {
        user: Some("alice".into()),
        env: vec!["PATH=/usr/bin:/bin".into(), "GREETING=hello world".into(), "EMPTY=".into()],
        entrypoint: vec!["/bin/echo".into(), "it's".into()],
        cmd: vec!["a b".into(), "\"q\"".into()],
        working_dir: Some("/srv/data".into()),
        ..Default::default()
    }
}

/// Renders `c`, parses the text back with the settings-file parser and checks that it asks
/// for exactly what the config says.
fn round_trip(c: &ImageConfig) -> Rendered {
    let r = render(c, USERS, "test").unwrap();
    let file = Path::new("/var/lib/machines/x.nspawn");
    let parsed = parse(file, r.text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{}", r.text));
    assert_eq!(parsed.warnings, Vec::<String>::new(), "{}", r.text);
    let s = parsed.settings;
    let argv: Vec<String> = c.entrypoint.iter().chain(&c.cmd).cloned().collect();
    let params: Vec<String> = s.parameters.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    assert_eq!(params, argv, "{}", r.text);
    let mut env = Vec::new();
    for e in c.env.iter().filter(|e| e.split_once('=').is_some_and(|(n, _)| v::env_name_is_valid(n))) {
        v::replace_env(&mut env, e.clone());
    }
    assert_eq!(s.setenv, env, "{}", r.text);
    assert_eq!(s.start_mode, Some(StartMode::Pid1));
    assert!(s.given.contains(SettingsMask::START_MODE));
    assert_eq!(s.given.contains(SettingsMask::KILL_SIGNAL), r.text.contains("\nKillSignal="));
    assert!(!s.given.intersects(SettingsMask::PRIVILEGED), "{:?}", s.given);
    r
}

#[test]
fn the_podman_image_golden() {
    let r = round_trip(&config());
    assert_eq!(
        r.text,
        "# Written by spawnctl import-oci from the image configuration of test\n\
         [Exec]\n\
         Boot=no\n\
         KillSignal=SIGTERM\n\
         User=alice\n\
         WorkingDirectory=/srv/data\n\
         Environment=PATH=/usr/bin:/bin\n\
         Environment='GREETING=hello world'\n\
         Environment=EMPTY=\n\
         Parameters=/bin/echo 'it'\"'\"'s' 'a b' '\"q\"'\n"
    );
    assert_eq!(r.warnings, Vec::<String>::new());
    let s = parse(Path::new("x.nspawn"), r.text.as_bytes()).unwrap().settings;
    assert_eq!((s.user.as_deref(), s.chdir.as_deref()), (Some("alice"), Some(Path::new("/srv/data"))));
    assert_eq!(s.kill_signal, Some(15));
}

#[test]
fn awkward_words_survive_the_settings_parser() {
    let words = [
        "",
        " ",
        "''",
        "\"",
        "'\"'",
        "a\\",
        "\\",
        "back\\slash \\n",
        "tab\there",
        "$HOME ${X} `id`",
        "#not a comment",
        ";x",
        "é ü 😀",
        "%n %i",
        "trailing \\",
        "it's \"both\"",
        "=",
        "a=b c",
        "\u{1}\u{7f}",
    ];
    let c = ImageConfig {
        entrypoint: words.iter().map(|w| w.to_string()).collect(),
        cmd: vec!["".into(), "last".into()],
        env: words.iter().enumerate().map(|(i, w)| format!("V{i}={w}")).collect(),
        ..Default::default()
    };
    round_trip(&c);
}

#[test]
fn working_directories_are_written_as_they_are() {
    for (dir, line) in [
        ("/srv/data", "WorkingDirectory=/srv/data\n"),
        ("/srv/it's \"q\"", "WorkingDirectory=/srv/it's \"q\"\n"),
        ("//srv/./x//y/", "WorkingDirectory=/srv/x/y\n"),
        ("/srv/blank ", "WorkingDirectory=/srv/blank /\n"),
        ("/srv/back\\", "WorkingDirectory=/srv/back\\/\n"),
        ("/a;b #c", "WorkingDirectory=/a;b #c\n"),
        // Found by the oci_config fuzz target: quoted, this was no absolute path any more.
        ("/srv'./x//y", "WorkingDirectory=/srv'./x/y\n"),
    ] {
        let c = ImageConfig { working_dir: Some(dir.into()), ..Default::default() };
        let r = round_trip(&c);
        assert!(r.text.contains(line), "{dir:?}: {}", r.text);
        let s = parse(Path::new("x.nspawn"), r.text.as_bytes()).unwrap().settings;
        let want = crate::cli::values::parse_chdir(dir).unwrap();
        assert_eq!(s.chdir.as_deref(), Some(want.as_path()), "{dir:?}");
    }
}

#[test]
fn root_slash_and_empty_fields_are_left_out() {
    for user in ["root", "0", "0:0", "root:root", ""] {
        let c = ImageConfig { user: Some(user.into()), working_dir: Some("/".into()), ..Default::default() };
        let r = round_trip(&c);
        assert!(!r.text.contains("User=") && !r.text.contains("WorkingDirectory="), "{user}: {}", r.text);
        assert!(!r.text.contains("Parameters="));
    }
}

#[test]
fn users_and_groups() {
    let user = |u: &str| {
        let c = ImageConfig { user: Some(u.into()), ..Default::default() };
        let r = round_trip(&c);
        let line = r.text.lines().find_map(|l| l.strip_prefix("User=")).map(str::to_string);
        (line, r.warnings)
    };
    assert_eq!(user("alice"), (Some("alice".into()), vec![]));
    assert_eq!(user("1000"), (Some("1000".into()), vec![]));
    assert_eq!(user("1000:1000"), (Some("1000".into()), vec![]));
    assert_eq!(user("alice:alice"), (Some("alice".into()), vec![]));
    assert_eq!(
        user("alice:wheel"),
        (
            Some("alice".into()),
            vec!["config.User: \"alice:wheel\": User= takes no group: the payload runs as alice with its primary group 1000 from /etc/passwd".into()]
        )
    );
    assert_eq!(
        user("4242:4242"),
        (
            Some("4242".into()),
            vec!["config.User: \"4242:4242\": the image's /etc/passwd has no user 4242: spawnbox -M will refuse to start until it has".into()]
        )
    );
    for (bad, want) in [
        ("a b", "config.User: \"a b\": quotes, backslashes, blanks or control characters cannot be in User="),
        ("a'b", "config.User: \"a'b\": quotes, backslashes, blanks or control characters cannot be in User="),
        ("a\nb", "config.User: \"a\\nb\": a newline, carriage return or NUL cannot be written to a .nspawn file"),
        (":1000", "config.User: \":1000\": no user"),
    ] {
        let c = ImageConfig { user: Some(bad.into()), ..Default::default() };
        assert_eq!(render(&c, USERS, "t").unwrap_err().to_string(), want);
    }
}

#[test]
fn what_cannot_be_written_is_refused_or_left_out() {
    let refuse = |c: ImageConfig| render(&c, USERS, "t").unwrap_err().to_string();
    assert_eq!(
        refuse(ImageConfig { cmd: vec!["sh".into(), "a\nb".into()], ..Default::default() }),
        "config.Cmd[1]: \"a\\nb\": a newline, carriage return or NUL cannot be written to a .nspawn file"
    );
    assert_eq!(
        refuse(ImageConfig { entrypoint: vec!["a\0".into()], ..Default::default() }),
        "config.Entrypoint[0]: \"a\\u0000\": a newline, carriage return or NUL cannot be written to a .nspawn file"
    );
    assert_eq!(
        refuse(ImageConfig { env: vec!["A=1".into(), "B=x\ry".into()], ..Default::default() }),
        "config.Env[1]: \"B=x\\ry\": a newline, carriage return or NUL cannot be written to a .nspawn file"
    );
    assert_eq!(
        refuse(ImageConfig { working_dir: Some("srv".into()), ..Default::default() }),
        "config.WorkingDir: \"srv\": working directory must be an absolute path"
    );
    assert_eq!(
        refuse(ImageConfig { working_dir: Some("/a/../proc".into()), ..Default::default() }),
        "config.WorkingDir: \"/a/../proc\": working directory path is not normalized"
    );
    assert_eq!(
        refuse(ImageConfig { cmd: vec!["x".repeat(1 << 20)], ..Default::default() }),
        "config: the Parameters= line would be longer than 1048576 bytes"
    );
    let c = ImageConfig {
        env: vec!["a.b=1".into(), "NOEQUALS".into(), "OK=1".into()],
        stop_signal: Some("SIGBOGUS".into()),
        ..Default::default()
    };
    let r = round_trip(&c);
    assert_eq!(
        r.warnings,
        [
            "config.StopSignal: \"SIGBOGUS\": not a signal, left out",
            "config.Env[0]: \"a.b\": not a valid variable name, left out",
            "config.Env[1]: \"NOEQUALS\": no '=', left out",
        ]
    );
    assert!(!r.text.contains("KillSignal="));
    let r = round_trip(&ImageConfig { stop_signal: Some("SIGRTMIN+3".into()), ..Default::default() });
    assert!(r.text.contains("KillSignal=SIGRTMIN+3\n"));
}

#[test]
fn the_origin_comment_stays_one_line() {
    let r = render(&ImageConfig::default(), USERS, "/tmp/a\nb.tar (sha256:00)").unwrap();
    assert!(r.text.starts_with(
        "# Written by spawnctl import-oci from the image configuration of /tmp/a?b.tar (sha256:00)\n[Exec]\n"
    ));
    round_trip(&ImageConfig::default());
}

#[test]
fn quoting() {
    assert_eq!(quote_word("plain/path:1,2;x=y@h%n"), "plain/path:1,2;x=y@h%n");
    assert_eq!(quote_word(""), "''");
    assert_eq!(quote_word("a b"), "'a b'");
    assert_eq!(quote_word("it's"), "'it'\"'\"'s'");
    assert_eq!(quote_word("\\"), "'\\'");
}
