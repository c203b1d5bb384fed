//! seccomp integration tests (root).
