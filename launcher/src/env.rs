//! The environment of the container's PID 1, built as nspawn builds it (§3.3): PATH,
//! `container=`, `container_uuid=`, NOTIFY_SOCKET, TERM, HOME/USER/LOGNAME, host os-release ids, then `-E`.

use crate::user::UserInfo;

/// Where the container's notify socket is (`notify.rs` binds it), nspawn's
/// NSPAWN_NOTIFY_SOCKET_PATH, and so the value of `$NOTIFY_SOCKET`.
pub const NOTIFY_SOCKET: &str = "/run/host/notify";

/// Where the container's credentials are (`credentials.rs` mounts them).
pub const CREDENTIALS_DIRECTORY: &str = "/run/host/credentials";

/// nspawn's DEFAULT_PATH_COMPAT.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the environment is made of.
pub struct EnvInput<'a> {
    pub uuid: &'a str,
    /// `TERM` of the caller (`None`: unset); `pipe` is true in `--console=pipe`.
    pub term: Option<&'a str>,
    pub pipe: bool,
    pub colorterm: Option<&'a str>,
    pub no_color: Option<&'a str>,
    pub user: &'a UserInfo,
    /// `-u` was given (then SHELL is set too).
    pub explicit_user: bool,
    /// `ID=`, `VERSION_ID=`, ... of the host's os-release.
    pub host_os_release: &'a [(String, String)],
    /// Credentials were passed (`$CREDENTIALS_DIRECTORY` names them).
    pub credentials: bool,
    /// `-E` assignments in order.
    pub setenv: &'a [String],
}

const HOST_ID_KEYS: [&str; 4] = ["ID", "VERSION_ID", "BUILD_ID", "VARIANT_ID"];

/// The `NAME=VALUE` list for PID 1.
pub fn build(input: &EnvInput<'_>) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        "container=spawnbox".to_string(),
        format!("container_uuid={}", input.uuid),
        format!("NOTIFY_SOCKET={NOTIFY_SOCKET}"),
    ];
    if input.credentials {
        env.push(format!("CREDENTIALS_DIRECTORY={CREDENTIALS_DIRECTORY}"));
    }
    let term = match (input.pipe, input.term) {
        (true, _) | (false, Some("dumb")) => "dumb",
        (false, Some(t)) if !t.is_empty() => t,
        _ => "vt220",
    };
    env.push(format!("TERM={term}"));
    if !input.pipe {
        if let Some(c) = input.colorterm {
            env.push(format!("COLORTERM={c}"));
        }
    }
    if let Some(n) = input.no_color {
        env.push(format!("NO_COLOR={n}"));
    }
    env.push(format!("HOME={}", input.user.home));
    env.push(format!("USER={}", input.user.name));
    env.push(format!("LOGNAME={}", input.user.name));
    if input.explicit_user {
        env.push(format!("SHELL={}", input.user.shell));
    }
    for (k, v) in input.host_os_release {
        if HOST_ID_KEYS.contains(&k.as_str()) {
            env.push(format!("container_host_{}={v}", k.to_ascii_lowercase()));
        }
    }
    for assignment in input.setenv {
        let name = assignment.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(name));
        env.push(assignment.clone());
    }
    env
}

/// The value of `name` in `env`.
pub fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

/// Parses an os-release (env-file) text into key/value pairs, unquoting simple quotes.
pub fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(user: &'a UserInfo, setenv: &'a [String], rel: &'a [(String, String)]) -> EnvInput<'a> {
        EnvInput {
            uuid: "u-u-i-d",
            term: Some("xterm-256color"),
            pipe: false,
            colorterm: Some("truecolor"),
            no_color: None,
            user,
            explicit_user: false,
            host_os_release: rel,
            credentials: false,
            setenv,
        }
    }

    #[test]
    fn golden_environment() {
        let root = UserInfo::root();
        let rel = parse_os_release("ID=debian\nVERSION_ID=\"12\"\nNAME='Debian'\n# x\n");
        let setenv = vec!["FOO=bar".to_string(), "TERM=linux".to_string()];
        let env = build(&input(&root, &setenv, &rel));
        assert_eq!(
            env,
            [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "container=spawnbox",
                "container_uuid=u-u-i-d",
                "NOTIFY_SOCKET=/run/host/notify",
                "COLORTERM=truecolor",
                "HOME=/root",
                "USER=root",
                "LOGNAME=root",
                "container_host_id=debian",
                "container_host_version_id=12",
                "FOO=bar",
                "TERM=linux",
            ]
        );
    }

    #[test]
    fn pipe_mode_is_dumb_and_user_sets_shell() {
        let alice = UserInfo {
            name: "alice".into(),
            uid: 1,
            gid: 1,
            groups: vec![],
            home: "/home/a".into(),
            shell: "/bin/ash".into(),
        };
        let mut i = input(&alice, &[], &[]);
        i.pipe = true;
        i.explicit_user = true;
        let env = build(&i);
        assert_eq!(lookup(&env, "TERM"), Some("dumb"));
        assert_eq!(lookup(&env, "COLORTERM"), None);
        assert_eq!(lookup(&env, "SHELL"), Some("/bin/ash"));
        assert_eq!(lookup(&env, "LOGNAME"), Some("alice"));
    }

    #[test]
    fn term_defaults_to_vt220() {
        let root = UserInfo::root();
        let mut i = input(&root, &[], &[]);
        i.term = None;
        assert_eq!(lookup(&build(&i), "TERM"), Some("vt220"));
    }
}
