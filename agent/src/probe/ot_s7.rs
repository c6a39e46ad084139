//! Siemens S7 identification (ISO-TSAP 102): COTP connect, S7 "setup communication", and one read
//! of the system status list (SZL) 0x0011, module identification: order number, hardware and
//! firmware version. The same three messages engineering tools and nmap's `s7-info` send; nothing
//! is written and no process value (inputs, outputs, data blocks) is read.
//!
//! The COTP connect asks rack 0 / slot 2 (S7-300) first, then TSAP 0x0200 (S7-1200/1500 and
//! others), as a PLC refuses a TSAP it does not serve.

use tokio::time::Instant;

use crate::probe::io::{self, ProbeError, Session};
use crate::probe::{Limits, ServiceInfo, Target};

/// Destination TSAPs tried, in order.
const TSAPS: [u16; 2] = [0x0102, 0x0200];
/// Largest TPKT accepted.
const MAX_TPKT: usize = 1024;

/// COTP Connection Request to `dst_tsap`, in a TPKT.
pub(crate) fn cotp_connect(dst_tsap: u16) -> [u8; 22] {
    let t = dst_tsap.to_be_bytes();
    [
        0x03, 0x00, 0x00, 0x16, // TPKT version 3, length 22
        0x11, 0xe0, // COTP: length indicator 17, CR
        0x00, 0x00, 0x00, 0x01, 0x00, // dst-ref 0, src-ref 1, class 0
        0xc0, 0x01, 0x0a, // parameter: TPDU size 1024
        0xc1, 0x02, 0x01, 0x00, // parameter: source TSAP 0x0100
        0xc2, 0x02, t[0], t[1], // parameter: destination TSAP
    ]
}

/// S7 Setup Communication (job): 1 parallel job each way, PDU size 480.
pub(crate) const SETUP_COMMUNICATION: [u8; 25] = [
    0x03, 0x00, 0x00, 0x19, // TPKT, length 25
    0x02, 0xf0, 0x80, // COTP DT, last data unit
    0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, // S7 header: job, PDU ref 0, params 8, data 0
    0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0, // setup communication, AmQ 1/1, PDU 480
];

/// S7 userdata request: read SZL id 0x0011 (module identification), index 0.
pub(crate) const READ_SZL_0011: [u8; 33] = [
    0x03, 0x00, 0x00, 0x21, // TPKT, length 33
    0x02, 0xf0, 0x80, // COTP DT
    0x32, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x08, // S7 header: userdata, params 8, data 8
    0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00, // params: request, CPU functions, read SZL
    0xff, 0x09, 0x00, 0x04, 0x00, 0x11, 0x00, 0x00, // data: SZL id 0x0011, index 0x0000
];

/// What the module identification said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Module {
    /// Order number of the module (index 0x0001), e.g. `6ES7 315-2EH14-0AB0`.
    pub order_number: Option<String>,
    /// Order number of the basic hardware (index 0x0006).
    pub hardware: Option<String>,
    /// Firmware version (index 0x0007), e.g. `V3.2.6`.
    pub firmware: Option<String>,
}

/// The TPDU after a TPKT header (4 bytes): checks version and length, returns the TPDU length; a
/// shorter header is a connection closed early.
pub(crate) fn parse_tpkt(header: &[u8]) -> Result<usize, ProbeError> {
    let header = header.get(..4).ok_or(ProbeError::Closed)?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if header[0] != 0x03 || !(7..=MAX_TPKT).contains(&len) {
        return Err(ProbeError::Protocol(format!("TPKT version {} length {len}", header[0])));
    }
    Ok(len - 4)
}

/// The S7 parameters and data of a COTP DT TPDU: (ROSCTR, params, data).
pub(crate) fn parse_s7(tpdu: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    // COTP DT: length indicator 2, 0xF0, EOT
    if tpdu.get(1)? != &0xf0 {
        return None;
    }
    let s7 = tpdu.get(usize::from(*tpdu.first()?) + 1..)?;
    if *s7.first()? != 0x32 {
        return None;
    }
    let rosctr = *s7.get(1)?;
    let params = usize::from(u16::from_be_bytes([*s7.get(6)?, *s7.get(7)?]));
    let data = usize::from(u16::from_be_bytes([*s7.get(8)?, *s7.get(9)?]));
    let header = if matches!(rosctr, 2 | 3) { 12 } else { 10 };
    if header == 12 && (s7.get(10)? != &0 || s7.get(11)? != &0) {
        return None; // error class / code set
    }
    let p = s7.get(header..header + params)?;
    let d = s7.get(header + params..header + params + data)?;
    Some((rosctr, p, d))
}

/// Parses the data part of a SZL 0x0011 answer.
pub(crate) fn parse_module(data: &[u8]) -> Option<Module> {
    if *data.first()? != 0xff {
        return None; // return code: not success
    }
    let record_len = usize::from(u16::from_be_bytes([*data.get(8)?, *data.get(9)?]));
    let count = usize::from(u16::from_be_bytes([*data.get(10)?, *data.get(11)?]));
    if record_len < 28 {
        return None;
    }
    let mut module = Module::default();
    for i in 0..count.min(16) {
        let Some(rec) = data.get(12 + i * record_len..12 + (i + 1) * record_len) else { break };
        let text = || {
            let raw = String::from_utf8_lossy(&rec[2..22]);
            let t = io::sanitize(raw.trim_matches(|c: char| c == '\0' || c == ' '), 40);
            (!t.is_empty()).then_some(t)
        };
        match u16::from_be_bytes([rec[0], rec[1]]) {
            0x0001 => module.order_number = text(),
            0x0006 => module.hardware = text(),
            0x0007 => module.firmware = Some(format!("V{}.{}.{}", rec[25], rec[26], rec[27])),
            _ => {}
        }
    }
    Some(module)
}

/// The S7 family of an order number.
pub(crate) fn family(order: &str) -> Option<&'static str> {
    match order.strip_prefix("6ES7 ")?.chars().next()? {
        '2' => Some("S7-1200"),
        '3' => Some("S7-300"),
        '4' => Some("S7-400"),
        '5' => Some("S7-1500"),
        _ => None,
    }
}

/// Connects, sets up communication, reads the module identification; fills `info`.
pub(super) async fn identify(target: &Target, limits: &Limits, info: &mut ServiceInfo) {
    let started = Instant::now();
    let mut last = ProbeError::Closed;
    for tsap in TSAPS {
        let left = Limits { deadline: limits.deadline.saturating_sub(started.elapsed()), ..*limits };
        if left.deadline.is_zero() {
            last = ProbeError::Timeout;
            break;
        }
        match converse(target, &left, tsap, info).await {
            Ok(()) => return,
            Err(e @ (ProbeError::Timeout | ProbeError::Refused | ProbeError::ByteLimit)) => {
                last = e;
                break;
            }
            Err(e) => last = e,
        }
    }
    info.note = Some(last.note());
}

async fn read_tpkt(s: &mut Session) -> Result<Vec<u8>, ProbeError> {
    let len = parse_tpkt(&s.read_exact(4).await?)?;
    s.read_exact(len).await
}

/// One connection to `tsap`.
async fn converse(target: &Target, limits: &Limits, tsap: u16, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    let mut s = Session::connect(target, limits).await?;
    s.write_all(&cotp_connect(tsap)).await?;
    let cc = read_tpkt(&mut s).await?;
    if cc.get(1).map(|c| c & 0xf0) != Some(0xd0) {
        return Err(ProbeError::Protocol("COTP connect refused".into()));
    }
    info.service = Some("s7".into());
    info.detail("cotp-tsap", &format!("{tsap:#06x}"));
    s.write_all(&SETUP_COMMUNICATION).await?;
    let ack = read_tpkt(&mut s).await?;
    if !matches!(parse_s7(&ack), Some((3, _, _))) {
        info.detail("s7comm", "setup communication geweigerd");
        return Ok(());
    }
    s.write_all(&READ_SZL_0011).await?;
    let answer = read_tpkt(&mut s).await?;
    let module = parse_s7(&answer).and_then(|(_, _, data)| parse_module(data));
    let Some(module) = module else {
        info.detail("s7comm", "module-identificatie niet gelezen");
        return Ok(());
    };
    let family = module.order_number.as_deref().and_then(family);
    info.product = Some(match family {
        Some(f) => format!("Siemens SIMATIC {f}"),
        None => "Siemens SIMATIC S7".to_string(),
    });
    info.version = module.firmware.clone();
    if let Some(order) = &module.order_number {
        info.detail("order-number", order);
    }
    if let Some(hw) = &module.hardware {
        info.detail("hardware", hw);
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// SZL 0x0011 answer of an S7-315 (after the TPKT header): three records.
    pub(crate) fn szl_answer() -> Vec<u8> {
        let record = |index: u16, text: &str, tail: [u8; 6]| {
            let mut r = index.to_be_bytes().to_vec(); // index
            let mut t = text.as_bytes().to_vec();
            t.resize(20, b' '); // MlfB, blank-padded
            r.extend(t);
            r.extend_from_slice(&tail); // BGTyp, Ausbg, Ausbe
            r
        };
        let mut data = vec![0xff, 0x09, 0x00, 0x5c]; // return code success, octet string, length 92
        data.extend_from_slice(&[0x00, 0x11, 0x00, 0x00]); // SZL id 0x0011, index 0
        data.extend_from_slice(&[0x00, 0x1c, 0x00, 0x03]); // record length 28, 3 records
        data.extend(record(0x0001, "6ES7 315-2EH14-0AB0", [0x00, 0xc0, 0x00, 0x04, 0x00, 0x01]));
        data.extend(record(0x0006, "6ES7 315-2EH14-0AB0", [0x00, 0xc0, 0x00, 0x04, 0x00, 0x01]));
        data.extend(record(0x0007, "", [0x00, 0xc0, 0x56, 0x03, 0x02, 0x06])); // 'V' 3.2.6
        let params = [0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00]; // userdata response
        let mut m = vec![0x02, 0xf0, 0x80]; // COTP DT
        m.extend_from_slice(&[0x32, 0x07, 0x00, 0x00, 0x00, 0x00]); // S7: userdata, PDU ref 0
        m.extend_from_slice(&(params.len() as u16).to_be_bytes()); // parameter length
        m.extend_from_slice(&(data.len() as u16).to_be_bytes()); // data length
        m.extend_from_slice(&params);
        m.extend(data);
        m
    }

    /// Found by fuzzing (`probe_reply`): a TPKT header shorter than 4 bytes indexed out of bounds.
    #[test]
    fn a_short_tpkt_header_is_an_error_not_a_panic() {
        assert!(matches!(parse_tpkt(&[]), Err(ProbeError::Closed)));
        assert!(matches!(parse_tpkt(&[0x03, 0x00, 0x00]), Err(ProbeError::Closed)));
        assert_eq!(parse_tpkt(&[0x03, 0x00, 0x00, 0x16]).ok(), Some(0x16 - 4));
    }

    #[test]
    fn requests_declare_their_lengths() {
        assert_eq!(usize::from(cotp_connect(0x0102)[3]), 22);
        assert_eq!(usize::from(cotp_connect(0x0102)[4]), 22 - 5);
        assert_eq!(usize::from(SETUP_COMMUNICATION[3]), SETUP_COMMUNICATION.len());
        assert_eq!(usize::from(READ_SZL_0011[3]), READ_SZL_0011.len());
        let (rosctr, params, data) = parse_s7(&READ_SZL_0011[4..]).expect("own request parses");
        assert_eq!((rosctr, params.len(), data.len()), (7, 8, 8));
    }

    #[test]
    fn parses_module_identification() {
        let answer = szl_answer();
        let (_, _, data) = parse_s7(&answer).expect("s7");
        let m = parse_module(data).expect("module");
        assert_eq!(m.order_number.as_deref(), Some("6ES7 315-2EH14-0AB0"));
        assert_eq!(m.firmware.as_deref(), Some("V3.2.6"));
        assert_eq!(family("6ES7 315-2EH14-0AB0"), Some("S7-300"));
    }

    #[test]
    fn truncated_and_odd_answers_are_refused() {
        let answer = szl_answer();
        for cut in 0..answer.len() - 1 {
            if let Some((_, _, data)) = parse_s7(&answer[..cut]) {
                panic!("cut at {cut} parsed {} data bytes", data.len());
            }
        }
        let mut failed = answer.clone();
        failed[3 + 22] = 0x0a; // SZL return code: object does not exist
        assert_eq!(parse_s7(&failed).and_then(|(_, _, d)| parse_module(d)), None);
        assert_eq!(parse_module(&[0xff, 0x09, 0, 4, 0, 0x11, 0, 0, 0x00, 0x02, 0x00, 0x10]), None); // records too short
        assert!(parse_tpkt(&[0x03, 0x00, 0xff, 0xff]).is_err());
        assert!(parse_tpkt(&[0x16, 0x03, 0x01, 0x00]).is_err()); // a TLS record
    }
}
