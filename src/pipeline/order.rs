//! The stage order of section 2, checked by the type system.
//!
//! Each stage layer names its [`position`] marker through [`Stage`]. The builder remembers the
//! marker of the last stage it placed and accepts a new stage only if the new marker
//! [`Follows`] the last one. `Follows` is implemented exactly for the pairs in contract order, so
//! any other order, or a stage given twice, is a type error, reported through
//! `#[diagnostic::on_unimplemented]` in the terms of the contract.

use crate::audit::AuditRecordLayer;
use crate::auth::ApiKeyAuthLayer;
use crate::health::HealthRouteLayer;
use crate::limit::SlidingWindowRateLimitLayer;
use crate::quota::QuotaDegradeLayer;
use crate::scope::ProjectScopeLayer;

/// One marker type per stage, named after the stage. They exist only in types.
pub mod position {
    /// Nothing placed yet.
    #[derive(Debug)]
    pub enum PipelineStart {}
    /// Stage 1.
    #[derive(Debug)]
    pub enum HealthRouteStage {}
    /// Stage 2.
    #[derive(Debug)]
    pub enum AuditRecordStage {}
    /// Stage 3.
    #[derive(Debug)]
    pub enum ApiKeyAuthStage {}
    /// Stage 4.
    #[derive(Debug)]
    pub enum ProjectScopeStage {}
    /// Stage 5.
    #[derive(Debug)]
    pub enum SlidingWindowRateLimitStage {}
    /// Stage 6.
    #[derive(Debug)]
    pub enum QuotaDegradeStage {}
}

/// A layer that is one of the six pipeline stages.
pub trait Stage {
    /// The stage's place in the order.
    type Position;
}

/// `Self` may be placed inside (after) `Previous`.
#[diagnostic::on_unimplemented(
    message = "pipeline order: `{Self}` cannot be placed after `{Previous}`",
    label = "`{Self}` placed after `{Previous}` here",
    note = "the contract's order, outermost first, is: HealthRoute, AuditRecord, ApiKeyAuth, ProjectScope, SlidingWindowRateLimit, QuotaDegrade",
    note = "each stage may be left out but appears at most once: place `{Self}` before `{Previous}`, or remove one of them if they are the same stage"
)]
pub trait Follows<Previous> {}

impl Stage for HealthRouteLayer {
    type Position = position::HealthRouteStage;
}
impl Stage for AuditRecordLayer {
    type Position = position::AuditRecordStage;
}
impl<K> Stage for ApiKeyAuthLayer<K> {
    type Position = position::ApiKeyAuthStage;
}
impl Stage for ProjectScopeLayer {
    type Position = position::ProjectScopeStage;
}
impl<L, K> Stage for SlidingWindowRateLimitLayer<L, K> {
    type Position = position::SlidingWindowRateLimitStage;
}
impl<Q, C> Stage for QuotaDegradeLayer<Q, C> {
    type Position = position::QuotaDegradeStage;
}

/// `follows!(Later: Earlier, ...)` implements `Later: Follows<Earlier>` for each earlier stage.
macro_rules! follows {
    ($later:ident: $($earlier:ident),+) => {
        $(#[diagnostic::do_not_recommend] impl Follows<position::$earlier> for position::$later {})+
    };
}

follows!(HealthRouteStage: PipelineStart);
follows!(AuditRecordStage: PipelineStart, HealthRouteStage);
follows!(ApiKeyAuthStage: PipelineStart, HealthRouteStage, AuditRecordStage);
follows!(ProjectScopeStage: PipelineStart, HealthRouteStage, AuditRecordStage, ApiKeyAuthStage);
follows!(SlidingWindowRateLimitStage: PipelineStart, HealthRouteStage, AuditRecordStage, ApiKeyAuthStage, ProjectScopeStage);
follows!(QuotaDegradeStage: PipelineStart, HealthRouteStage, AuditRecordStage, ApiKeyAuthStage, ProjectScopeStage, SlidingWindowRateLimitStage);
