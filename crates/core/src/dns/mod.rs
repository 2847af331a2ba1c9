//! The DNS vocabulary every other module speaks: owner names and records.

pub mod name;
pub mod rdata;
pub mod record;
pub mod record_data;
