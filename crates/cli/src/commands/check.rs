//! `zonegate check`: parse and validate a zone file under the configured limits, as
//! `named-checkzone` and `kzonecheck` do, without opening (or creating) a database. A pipeline
//! lints a change with it before it has a store: exit 0 valid, 2 unreadable or unparsable,
//! 3 invalid or over a limit.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zonegate_core::gate::Refusal;
use zonegate_core::zone::validate::validate;

use super::OutputArgs;
use crate::context::{Ctx, read_zone};
use crate::exit;
use crate::failure::Failure;
use crate::outcome::Outcome;
use crate::output::{self, outln};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The zone file (RFC 1035 master file).
    zonefile: PathBuf,
    /// The zone's origin; without it, the owner of the file's first SOA record.
    #[arg(long)]
    zone: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `zonegate check`.
pub async fn run(ctx: &Ctx, args: CheckArgs) -> Result<u8, Failure> {
    let parsed = read_zone(&args.zonefile, args.zone.as_deref(), &ctx.gate.limits)?;
    let origin = parsed.origin.clone();
    let zone = match validate(parsed, &ctx.gate.limits) {
        Ok(zone) => zone,
        Err(invalid) => {
            output::refusal(&ctx.emit, &origin, &Refusal::Invalid(invalid));
            return Ok(exit::REFUSED);
        }
    };
    let (records, hash) = (zone.records().len(), zone.hash());
    if ctx.emit.json {
        ctx.emit.object(json!({
            "zone": origin.to_string(), "outcome": Outcome::Valid,
            "records": records, "hash": hash.to_string(),
        }));
    } else {
        outln!("zone {origin}: valid, {records} records, hash {hash}");
    }
    Ok(exit::OK)
}
