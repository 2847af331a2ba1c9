//! [`StepContext`]: what every step that writes runs with.

use crate::gate::audit::Actor;
use crate::gate::config::GateConfig;

/// The settings, the time and the actor a step runs with. The core never reads the clock, so
/// `now` (unix seconds) is given; `actor` names who ran the step in the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepContext<'a> {
    pub(crate) cfg: &'a GateConfig,
    pub(crate) now: u64,
    pub(crate) actor: &'a Actor,
}
