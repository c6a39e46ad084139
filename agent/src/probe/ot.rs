//! Building controls and OT: identification only, and only when the consent allows it.
//!
//! Without `ot_identification = true` in the consent ([`Target::ot_allowed`]) nothing is sent: the
//! service is named from the port list and the note says why. With it, one read-only identification
//! exchange per protocol, the kind the vendors' own engineering tools send:
//!
//! | port | protocol | request |
//! |---|---|---|
//! | 502, 6607 | Modbus/TCP | Read Device Identification (43/14), basic objects (`ot_modbus.rs`) |
//! | 102 | Siemens S7 | COTP connect, setup communication, SZL 0x0011 module id (`ot_s7.rs`) |
//! | 47808 | BACnet/IP (UDP) | ReadProperty of the device object's name plate (`ot_bacnet.rs`) |
//! | 44818 | EtherNet/IP | ListIdentity (`ot_enip.rs`) |
//! | 1911, 4911 | Niagara Fox (4911 over TLS) | `fox hello` (`ot_fox.rs`) |
//!
//! Every other OT port (DNP3, IEC-104, OPC UA, CODESYS, serial device servers, ...) is named only:
//! DNP3 needs the outstation's link address to ask anything, and on a serial device server whatever
//! arrives goes straight to the attached device. No probe ever writes or reads a process value.

#[path = "ot_bacnet.rs"]
pub(crate) mod bacnet;
#[path = "ot_enip.rs"]
pub(crate) mod enip;
#[path = "ot_fox.rs"]
pub(crate) mod fox;
#[path = "ot_modbus.rs"]
pub(crate) mod modbus;
#[path = "ot_s7.rs"]
pub(crate) mod s7;

use super::{Limits, ServiceInfo, Target};
use crate::ports::Proto;
use crate::tls::{self, StartTls};

/// The note of an OT port the consent keeps us from asking.
pub const NOT_ALLOWED: &str = "not-probed: OT identification not allowed by the consent";
/// The note of an OT port without an identification request here.
pub const NO_REQUEST: &str = "not-probed: no identification request for this OT protocol";

/// Identifies a building-control / OT service on `target`, if the consent allows it.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let port = target.addr.port();
    let mut info = ServiceInfo::for_port(target, "ot");
    if !target.ot_allowed {
        info.note = Some(NOT_ALLOWED.into());
        return info;
    }
    match (target.proto, port) {
        (Proto::Tcp, 502 | 6607) => modbus::identify(target, limits, &mut info).await,
        (Proto::Tcp, 102) => s7::identify(target, limits, &mut info).await,
        (_, 47808) => bacnet::identify(&bacnet::udp_target(target), limits, &mut info).await,
        (Proto::Tcp, 44818) => enip::identify(target, limits, &mut info).await,
        (Proto::Tcp, 1911) => fox::identify(target, limits, &mut info).await,
        (Proto::Tcp, 4911) => {
            let hello = async { fox::converse(super::http::connect(target, limits, true).await?, &mut info).await };
            if let Err(e) = hello.await {
                info.note = Some(e.note());
            }
            tls::analyse_into(&mut info, target, StartTls::Implicit, limits).await;
        }
        _ => info.note = Some(NO_REQUEST.into()),
    }
    info
}

#[cfg(test)]
#[path = "ot_tests.rs"]
mod tests;
