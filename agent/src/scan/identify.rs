//! The identification phase: every open port of a live host meets its protocol probe.
//!
//! Fragile hosts get no payloads: their open ports are reported as found, never probed. Printer
//! ports are left alone by their prober. Probes run a few at a time, each after a per-host and a total
//! rate cell, and each within its own time and byte limits; Ctrl-C ends the phase at once and keeps
//! what was identified.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Plan;
use crate::ports::{self, Profile, Proto};
use crate::probe::{Limits, Prober, ServiceInfo, Target};
use crate::progress::Progress;
use crate::rate::Limiter;

/// Probes in flight at most.
const CONCURRENT_PROBES: usize = 16;

/// An open port to identify.
pub type Key = (IpAddr, u16, Proto);

/// What identification learnt, per open port.
pub type Identified = HashMap<Key, ServiceInfo>;

/// Identifies every open port in `open`.
pub async fn identify_all(
    open: Vec<Key>,
    plan: &Plan,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    stop: &CancellationToken,
) -> Identified {
    let scope = &plan.consent.terms.scope;
    let deep = plan.profile_name != Profile::Quick.to_string();
    let ot_allowed = plan.consent.terms.ot_identification;
    let limits = Limits::default();
    let slots = Arc::new(Semaphore::new(CONCURRENT_PROBES));
    let mut found = Identified::new();
    let mut tasks = JoinSet::new();
    progress.phase("services", open.len() as u64);
    for (host, port, proto) in open {
        if scope.is_fragile(host) {
            let mut info = ServiceInfo::named(ports::service_name(port, proto).unwrap_or("unknown"));
            info.note = Some("not-probed: fragile range".into());
            found.insert((host, port, proto), info);
            progress.done.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let target = Target { addr: SocketAddr::new(host, port), proto, hostname: None, deep, ot_allowed };
        let (slots, limiter, progress, stop) = (slots.clone(), limiter.clone(), progress.clone(), stop.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.ok()?;
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = limiter.acquire(host) => {}
            }
            progress.sent(true);
            let info = tokio::select! {
                _ = stop.cancelled() => return None,
                info = Prober::for_port(port, proto).identify(&target, &limits) => info,
            };
            Some(((host, port, proto), info))
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some((key, info))) = done {
            found.insert(key, info);
        }
    }
    found
}
