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
    pub enum Start {}
    /// Stage 1.
    #[derive(Debug)]
    pub enum HealthRoute {}
    /// Stage 2.
    #[derive(Debug)]
    pub enum AuditRecord {}
    /// Stage 3.
    #[derive(Debug)]
    pub enum ApiKeyAuth {}
    /// Stage 4.
    #[derive(Debug)]
    pub enum ProjectScope {}
    /// Stage 5.
    #[derive(Debug)]
    pub enum SlidingWindowRateLimit {}
    /// Stage 6.
    #[derive(Debug)]
    pub enum QuotaDegrade {}
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
    note = "each stage may be left out but appears at most once; move `{Self}` before `{Previous}` or remove one of them"
)]
pub trait Follows<Previous> {}

impl Stage for HealthRouteLayer {
    type Position = position::HealthRoute;
}
impl Stage for AuditRecordLayer {
    type Position = position::AuditRecord;
}
impl<K> Stage for ApiKeyAuthLayer<K> {
    type Position = position::ApiKeyAuth;
}
impl Stage for ProjectScopeLayer {
    type Position = position::ProjectScope;
}
impl Stage for SlidingWindowRateLimitLayer {
    type Position = position::SlidingWindowRateLimit;
}
impl Stage for QuotaDegradeLayer {
    type Position = position::QuotaDegrade;
}

/// `follows!(Later: Earlier, ...)` implements `Later: Follows<Earlier>` for each earlier stage.
macro_rules! follows {
    ($later:ident: $($earlier:ident),+) => {
        $(impl Follows<position::$earlier> for position::$later {})+
    };
}

follows!(HealthRoute: Start);
follows!(AuditRecord: Start, HealthRoute);
follows!(ApiKeyAuth: Start, HealthRoute, AuditRecord);
follows!(ProjectScope: Start, HealthRoute, AuditRecord, ApiKeyAuth);
follows!(SlidingWindowRateLimit: Start, HealthRoute, AuditRecord, ApiKeyAuth, ProjectScope);
follows!(QuotaDegrade: Start, HealthRoute, AuditRecord, ApiKeyAuth, ProjectScope, SlidingWindowRateLimit);
