//! `[[quota.routes]]`: the metered routes of the service behind the pipeline.

use std::collections::HashMap;

use http::Method;

use super::ConfigError;
use super::raw::{RawQuota, RawQuotaRoute};
use super::validate::Lines;
use crate::quota::{Operation, QuotaRoute, RoutePath};

/// `[quota]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QuotaConfig {
    /// The metered routes; empty (`[[quota.routes]]` absent) for the memory API's routes.
    pub routes: Vec<QuotaRoute>,
}

/// Checks `[quota]`: every entry, and no (method, path) twice.
pub(super) fn validate(lines: &Lines<'_>, raw: RawQuota) -> Result<QuotaConfig, ConfigError> {
    let Some(list) = raw.routes else {
        return Ok(QuotaConfig::default());
    };
    if list.get_ref().is_empty() {
        return Err(lines.error(
            &list,
            "quota.routes must not be empty; leave it out for the memory API's routes",
        ));
    }
    let mut seen: HashMap<(Method, RoutePath), usize> = HashMap::new();
    let mut routes = Vec::with_capacity(list.get_ref().len());
    for raw in list.into_inner() {
        let route = route(lines, &raw)?;
        let key = (route.method.clone(), route.path.clone());
        if let Some(first) = seen.insert(key, lines.of(raw.path.span())) {
            return Err(lines.error(
                &raw.path,
                format!(
                    "duplicate quota route {} {} (first on line {first})",
                    route.method, route.path
                ),
            ));
        }
        routes.push(route);
    }
    Ok(QuotaConfig { routes })
}

fn route(lines: &Lines<'_>, raw: &RawQuotaRoute) -> Result<QuotaRoute, ConfigError> {
    let method = Method::from_bytes(raw.method.get_ref().trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| lines.error(&raw.method, "method must be an HTTP method such as POST"))?;
    let path =
        RoutePath::parse(raw.path.get_ref()).map_err(|e| lines.error(&raw.path, e.to_string()))?;
    let operation = match raw.operation.get_ref().as_str() {
        "add" => Operation::Add,
        "query" => Operation::Query,
        _ => return Err(lines.error(&raw.operation, "operation must be \"add\" or \"query\"")),
    };
    Ok(QuotaRoute::new(method, path, operation))
}
