//! postgres identification (stub: named from the port list until the probe lands).

use super::{Limits, ServiceInfo, Target};

/// Identifies postgres on `target`.
pub async fn identify(target: &Target, _limits: &Limits) -> ServiceInfo {
    ServiceInfo::named(crate::ports::service_name(target.addr.port(), target.proto).unwrap_or("postgres"))
}
