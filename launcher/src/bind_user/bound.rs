//! One host user bound into the container: what the plan decides for it and the records and
//! passwd/group lines are made from.

use std::path::{Path, PathBuf};

/// Where the bound users' homes are in the container.
pub const HOME_DIR: &str = "/run/host/home";

/// One host user bound into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundUser {
    /// The user's name, also its private group's.
    pub name: String,
    pub host_uid: u32,
    pub host_gid: u32,
    /// Its UID and GID in the container.
    pub uid: u32,
    /// Its home on the host, bound onto [`BoundUser::home`].
    pub host_home: PathBuf,
    pub shell: Option<String>,
    /// From the host's shadow file; goes only into the 0600 `NAME.user-privileged` record.
    pub hashed_password: Option<String>,
    /// `--bind-user-group=` groups.
    pub member_of: Vec<String>,
}

impl BoundUser {
    /// Its home in the container: `/run/host/home/NAME`.
    pub fn home(&self) -> PathBuf {
        Path::new(HOME_DIR).join(&self.name)
    }
}
