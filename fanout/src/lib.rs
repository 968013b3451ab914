//! Fanout worker (in progress).
