//! security integration tests (root).
