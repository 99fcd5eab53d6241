use std::fmt;

use http::StatusCode;

use super::GrpcStatus;

/// The `code` member of a rejection: one per reason a stage refuses a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionCode {
    /// No API key in `Authorization` or `X-API-Key`.
    MissingApiKey,
    /// The key headers are unreadable, repeated or disagree, or the key fails its format or
    /// checksum: refused without a store look-up.
    MalformedApiKey,
    /// A well-formed key that no record matches, or whose tag disagrees with its record.
    InvalidApiKey,
    /// The key was revoked.
    RevokedApiKey,
    /// The key is past its expiry.
    ExpiredApiKey,
    /// No usable `X-Project-ID` header.
    MissingProjectId,
    /// `X-Project-ID` names another project than the key's.
    ProjectMismatch,
    /// The key's rate limit is spent.
    RateLimited,
    /// The client address has asked `/health` too often.
    HealthRateLimited,
    /// A store needed for the decision did not answer and the policy is to deny.
    StoreUnavailable,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// The reverse proxy could not reach its upstream service: nothing was served.
    UpstreamUnavailable,
    /// The upstream service did not answer in time; it may have acted on the request.
    UpstreamTimeout,
}

impl RejectionCode {
    /// Every code, for tests and documentation.
    pub const ALL: [RejectionCode; 13] = [
        RejectionCode::MissingApiKey,
        RejectionCode::MalformedApiKey,
        RejectionCode::InvalidApiKey,
        RejectionCode::RevokedApiKey,
        RejectionCode::ExpiredApiKey,
        RejectionCode::MissingProjectId,
        RejectionCode::ProjectMismatch,
        RejectionCode::RateLimited,
        RejectionCode::HealthRateLimited,
        RejectionCode::StoreUnavailable,
        RejectionCode::PayloadTooLarge,
        RejectionCode::UpstreamUnavailable,
        RejectionCode::UpstreamTimeout,
    ];

    /// The snake_case code of the problem body, e.g. `missing_api_key`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectionCode::MissingApiKey => "missing_api_key",
            RejectionCode::MalformedApiKey => "malformed_api_key",
            RejectionCode::InvalidApiKey => "invalid_api_key",
            RejectionCode::RevokedApiKey => "revoked_api_key",
            RejectionCode::ExpiredApiKey => "expired_api_key",
            RejectionCode::MissingProjectId => "missing_project_id",
            RejectionCode::ProjectMismatch => "project_mismatch",
            RejectionCode::RateLimited => "rate_limited",
            RejectionCode::HealthRateLimited => "health_rate_limited",
            RejectionCode::StoreUnavailable => "store_unavailable",
            RejectionCode::PayloadTooLarge => "payload_too_large",
            RejectionCode::UpstreamUnavailable => "upstream_unavailable",
            RejectionCode::UpstreamTimeout => "upstream_timeout",
        }
    }

    /// The HTTP status.
    pub const fn status(self) -> StatusCode {
        match self {
            RejectionCode::MissingApiKey
            | RejectionCode::MalformedApiKey
            | RejectionCode::InvalidApiKey
            | RejectionCode::RevokedApiKey
            | RejectionCode::ExpiredApiKey => StatusCode::UNAUTHORIZED,
            RejectionCode::MissingProjectId => StatusCode::BAD_REQUEST,
            RejectionCode::ProjectMismatch => StatusCode::FORBIDDEN,
            RejectionCode::RateLimited | RejectionCode::HealthRateLimited => {
                StatusCode::TOO_MANY_REQUESTS
            }
            RejectionCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RejectionCode::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            RejectionCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The problem's short title.
    pub const fn title(self) -> &'static str {
        match self {
            RejectionCode::MissingApiKey => "API key missing",
            RejectionCode::MalformedApiKey => "API key malformed",
            RejectionCode::InvalidApiKey => "API key invalid",
            RejectionCode::RevokedApiKey => "API key revoked",
            RejectionCode::ExpiredApiKey => "API key expired",
            RejectionCode::MissingProjectId => "Project ID missing",
            RejectionCode::ProjectMismatch => "Project mismatch",
            RejectionCode::RateLimited => "Rate limit exceeded",
            RejectionCode::HealthRateLimited => "Health check rate limit exceeded",
            RejectionCode::StoreUnavailable => "Store unavailable",
            RejectionCode::PayloadTooLarge => "Payload too large",
            RejectionCode::UpstreamUnavailable => "Upstream unavailable",
            RejectionCode::UpstreamTimeout => "Upstream timeout",
        }
    }

    /// The gRPC status of the same rejection.
    pub const fn grpc_status(self) -> GrpcStatus {
        match self {
            RejectionCode::MissingApiKey
            | RejectionCode::MalformedApiKey
            | RejectionCode::InvalidApiKey
            | RejectionCode::RevokedApiKey
            | RejectionCode::ExpiredApiKey => GrpcStatus::Unauthenticated,
            RejectionCode::MissingProjectId => GrpcStatus::InvalidArgument,
            RejectionCode::ProjectMismatch => GrpcStatus::PermissionDenied,
            // As gRPC servers answer a message over their size limit.
            RejectionCode::RateLimited
            | RejectionCode::HealthRateLimited
            | RejectionCode::PayloadTooLarge => GrpcStatus::ResourceExhausted,
            RejectionCode::StoreUnavailable | RejectionCode::UpstreamUnavailable => {
                GrpcStatus::Unavailable
            }
            RejectionCode::UpstreamTimeout => GrpcStatus::DeadlineExceeded,
        }
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_codes_are_a_bad_gateway_and_a_gateway_timeout() {
        let unavailable = RejectionCode::UpstreamUnavailable;
        assert_eq!(unavailable.as_str(), "upstream_unavailable");
        assert_eq!(unavailable.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(unavailable.grpc_status(), GrpcStatus::Unavailable);
        assert_eq!(unavailable.grpc_status().code(), 14);
        let timeout = RejectionCode::UpstreamTimeout;
        assert_eq!(timeout.as_str(), "upstream_timeout");
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(timeout.grpc_status(), GrpcStatus::DeadlineExceeded);
        assert_eq!(timeout.grpc_status().code(), 4);
    }

    #[test]
    fn every_code_is_listed_once_with_its_own_word() {
        let mut words: Vec<&str> = RejectionCode::ALL.iter().map(|c| c.as_str()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), RejectionCode::ALL.len());
        assert!(words.contains(&"upstream_unavailable") && words.contains(&"upstream_timeout"));
    }
}
