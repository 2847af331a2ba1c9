//! The served zones: the zone set, each served zone with its prepared answers.

pub(crate) mod history;
pub(crate) mod served;
pub(crate) mod set;
