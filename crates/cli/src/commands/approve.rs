//! `zonegate approve`: approve exactly one staged plan, bound to its hash.

use clap::Args;
use zonegate_core::gate::Verdict;

use super::OutputArgs;
use super::decide::{DecisionRequest, decide};
use crate::context::Ctx;
use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct ApproveArgs {
    origin: String,
    generation: u64,
    /// The plan's content hash, as `plan` printed it (sha256:...).
    #[arg(long)]
    hash: String,
    /// Why this change is intended; goes into the audit log.
    #[arg(long)]
    reason: String,
    /// Who approves; defaults to $USER.
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(ctx: &Ctx, args: ApproveArgs) -> Result<u8, Failure> {
    let request = DecisionRequest {
        origin: args.origin,
        generation: args.generation,
        hash: Some(args.hash),
        to: Verdict::Approved,
        reason: args.reason,
        by: args.by,
    };
    decide(ctx, request).await
}
