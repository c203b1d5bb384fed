//! network integration tests (root).
