//! One served zone.

pub(crate) mod prepared;
