//! The served zones: the zone set, each served zone with its prepared answers, and the
//! background threads that build them.

pub(crate) mod background;
pub(crate) mod history;
pub(crate) mod served;
pub(crate) mod set;
