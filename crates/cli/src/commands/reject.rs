//! `zonegate reject`: reject a staged plan for good.

use clap::Args;
use zonegate_core::gate::Verdict;

use super::OutputArgs;
use super::decide::{DecisionRequest, decide};
use crate::context::Ctx;
use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct RejectArgs {
    origin: String,
    generation: u64,
    /// Why; goes into the audit log.
    #[arg(long)]
    reason: String,
    /// Who rejects; defaults to $USER.
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(ctx: &Ctx, args: RejectArgs) -> Result<u8, Failure> {
    let request = DecisionRequest {
        origin: args.origin,
        generation: args.generation,
        hash: None,
        to: Verdict::Rejected,
        reason: args.reason,
        by: args.by,
    };
    decide(ctx, request).await
}
