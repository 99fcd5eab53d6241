//! The OpenAPI 3.1 document of the admin API, generated from the handlers and their types.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::key_view::{
    EnvironmentName, KeyStatus, KeyView, NewKeyView, OwnerName, PreviousKey, RotatedKeyView,
    UsageView,
};
use super::problem::Problem;
use super::{audit, deliveries, endpoints, keys, projects};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "memorysync admin API",
        description = "Keys, plans, webhook endpoints and the audit log of a memorysync deployment."
    ),
    paths(
        keys::list, keys::create, keys::show, keys::update, keys::rotate, keys::revoke,
        projects::list, projects::show, projects::create, projects::set_plan,
        endpoints::list, endpoints::create, endpoints::show, endpoints::update,
        endpoints::delete, endpoints::enable, endpoints::rotate_secret, deliveries::attempts,
        deliveries::dead_letters, deliveries::replay_one, deliveries::replay_since,
        audit::query, audit::verify
    ),
    components(schemas(
        Problem, KeyView, NewKeyView, RotatedKeyView, PreviousKey, UsageView, KeyStatus,
        OwnerName, EnvironmentName, keys::NewKey, keys::KeyPatch, keys::Rotation,
        projects::ProjectView, projects::PlanBody, projects::Tile, projects::TileEntry,
        projects::NewProject, audit::AuditLine, audit::OutcomeName, audit::VerifyView,
        audit::HeadView, endpoints::EndpointDoc, endpoints::SecretAndEndpoint,
        endpoints::NewEndpointBody, endpoints::EndpointPatchBody, endpoints::Rotation,
        deliveries::AttemptView, deliveries::AttemptPage, deliveries::DeadLetterView,
        deliveries::DeadLetterPage, deliveries::Replayed
    )),
    modifiers(&AdminToken),
    security(("admin_token" = [])),
    tags(
        (name = "keys", description = "API keys: list, create, update, rotate, revoke"),
        (name = "projects", description = "Plans and the month's quota tile"),
        (name = "webhooks", description = "Endpoints, delivery attempts and dead letters"),
        (name = "audit", description = "The audit log, newest first, and its chain verified")
    )
)]
struct AdminDocument;

/// The `admin_token` bearer scheme every route requires.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub(super) fn document_value() -> utoipa::openapi::OpenApi {
    AdminDocument::openapi()
}

/// `GET /admin/v1/openapi.json`.
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(document_value())
}
