use super::*;
use crate::report::fixtures::{self, HOSTILE};

const AGENT: &str = "0123456789abcdef01234567";

#[test]
fn the_fixture_report_is_counted_right() {
    let s = summarise(&fixtures::report(), AGENT, 4);
    s.validate().expect("a summary of a real report is valid");
    assert_eq!((s.agent.as_str(), s.seq, s.week.as_str()), (AGENT, 4, "2026-W49"));
    assert_eq!((s.counts.hosts_alive, s.counts.open_services, s.counts.tls_endpoints), (3, 5, 1));
    let kinds: Vec<(&str, u32)> = s.services.iter().map(|c| (c.kind.as_str(), c.services)).collect();
    assert_eq!(kinds, [("http", 1), ("https", 1), ("ssh", 1), ("telnet", 2)]);
    let weaknesses: Vec<(&str, u32)> = s.weaknesses.iter().map(|w| (w.id.as_str(), w.hosts)).collect();
    assert_eq!(weaknesses, [("outdated-software", 1), ("telnet-open", 2), ("tls-1.0-enabled", 1)], "made-up ids drop");
    assert_eq!((s.tls.protocols.tls1_0, s.tls.protocols.tls1_2, s.tls.protocols.tls1_3), (1, 1, 0));
}

#[test]
fn nothing_a_server_or_the_network_wrote_leaves() {
    let mut report = fixtures::report();
    report.hosts[0].services[0].service = Some(format!("x{HOSTILE}"));
    report.hosts[1].services[1].tls = Some(serde_json::json!({
        "versions": ["TLSv1.2"], "weak_ciphers": [], "observations": [
            {"weakness": "tls-cert-self-signed", "evidence": "CN=dc01.voorbeeld.local"}],
        "certificate": {
            "subject": "CN=dc01.voorbeeld.local,O=Gemeente Voorbeeld", "common_name": "dc01.voorbeeld.local",
            "alt_names": ["dc01.voorbeeld.local"], "issuer": "CN=dc01.voorbeeld.local", "serial": "01",
            "not_before": "2026-01-01T00:00:00Z", "not_after": "2027-01-01T00:00:00Z", "days_left": 30,
            "key": "RSA", "key_bits": 2048, "signature_algorithm": "sha256WithRSAEncryption",
            "self_signed": true, "trusted": false, "trust_error": null, "chain_length": 1,
            "sha256": "ee".repeat(32), "name_matches": null, "problems": []}
    }));
    let s = summarise(&report, AGENT, 1);
    s.validate().expect("valid");
    assert_eq!(s.services.iter().find(|c| c.kind == OTHER_KIND).map(|c| c.services), Some(1));
    assert_eq!((s.tls.certificates.seen, s.tls.certificates.self_signed), (1, 1));
    let text = serde_json::to_string(&s).expect("json");
    let mut forbidden: Vec<String> = vec![HOSTILE.into(), "script".into(), "voorbeeld".into(), "Voorbeeld".into()];
    for host in &report.hosts {
        forbidden.push(host.address.to_string());
        forbidden.extend(host.mac.clone());
        for service in &host.services {
            forbidden.extend(service.product.clone());
            forbidden.extend(service.version.clone());
        }
    }
    forbidden.extend(report.findings.iter().map(|f| f.evidence.clone()));
    forbidden.push(report.scan_id.clone());
    forbidden.push(report.consent.sha256.clone());
    for needle in forbidden.iter().filter(|n| n.len() >= 4) {
        assert!(!text.contains(needle.as_str()), "{needle:?} leaked into {text}");
    }
}

#[test]
fn profiles_outside_the_contract_read_as_custom() {
    let mut report = fixtures::report();
    report.scan.profile = "ports 1-1024".into();
    assert_eq!(summarise(&report, AGENT, 1).profile, "custom");
}
