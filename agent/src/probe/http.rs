//! HTTP identification (stub until the probe lands).

use super::{Limits, ServiceInfo, Target};

/// Identifies HTTP (or HTTPS when `tls`) on `target`.
pub async fn identify(_target: &Target, _limits: &Limits, tls: bool) -> ServiceInfo {
    ServiceInfo::named(if tls { "https" } else { "http" })
}

/// Identifies Elasticsearch on `target`.
pub async fn identify_elasticsearch(_target: &Target, _limits: &Limits) -> ServiceInfo {
    ServiceInfo::named("elasticsearch")
}
