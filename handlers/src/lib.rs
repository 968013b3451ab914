//! Route handlers (in progress).
