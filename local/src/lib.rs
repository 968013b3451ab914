//! Local service (in progress).
