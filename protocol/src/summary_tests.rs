use ed25519_dalek::SigningKey;

use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub(crate) fn sample() -> Summary {
    Summary {
        schema: SUMMARY_SCHEMA.into(),
        agent: "a1b2c3d4e5f60708".into(),
        seq: 7,
        week: "2026-W49".into(),
        agent_version: "0.1.0".into(),
        profile: "standard".into(),
        complete: true,
        counts: Counts { hosts_alive: 12, open_services: 30, tls_endpoints: 4 },
        services: vec![
            ServiceCount { kind: "ssh".into(), services: 5 },
            ServiceCount { kind: "http".into(), services: 9 },
        ],
        weaknesses: vec![
            WeaknessCount { id: "telnet-open".into(), severity: Severity::High, hosts: 2 },
            WeaknessCount { id: "tls-1.0-enabled".into(), severity: Severity::Medium, hosts: 1 },
        ],
        tls: TlsCounts {
            protocols: ProtocolCounts { tls1_0: 1, tls1_2: 4, tls1_3: 3, ..Default::default() },
            weak_ciphers: 1,
            certificates: CertificateCounts { seen: 4, self_signed: 2, untrusted: 2, ..Default::default() },
        },
    }
}

#[test]
fn a_signed_summary_travels_and_verifies() {
    let signed = SignedSummary::sign(sample(), &key(1));
    let back = SignedSummary::decode(&signed.to_bytes()).expect("decodes");
    assert_eq!(back, signed);
    back.verify(&key(1).verifying_key()).expect("verifies");
    // Signing sorted the lists.
    assert_eq!(back.summary.services[0].kind, "http");
}

#[test]
fn an_envelope_says_which_receipts_its_agent_reads_and_the_first_one_still_reads() {
    let signed = SignedSummary::sign(sample(), &key(1));
    assert_eq!((signed.schema.as_str(), signed.reads_batch_receipts()), (SIGNED_SUMMARY_SCHEMA, true));
    // An older agent's envelope: no list, the same signature over the same summary.
    let mut older = signed.clone();
    older.schema = SIGNED_SUMMARY_SCHEMA_1.into();
    older.receipts.clear();
    let text = String::from_utf8(older.to_bytes()).expect("utf8");
    assert!(text.starts_with(r#"{"schema":"wijk.signed-summary/1","summary":"#), "{text}");
    let back = SignedSummary::decode(text.as_bytes()).expect("the first envelope reads");
    back.verify(&key(1).verifying_key()).expect("verifies");
    assert!(!back.reads_batch_receipts());
    // A newer agent may list receipt schemas this version does not know.
    let mut newer = signed;
    newer.receipts = vec!["wijk.receipt/3".into()];
    let back = SignedSummary::decode(&newer.to_bytes()).expect("unknown receipt schemas are allowed");
    assert!(!back.reads_batch_receipts());
}

#[test]
fn formatting_does_not_matter_but_every_value_does() {
    let signed = SignedSummary::sign(sample(), &key(1));
    let pretty = serde_json::to_vec_pretty(&signed).expect("json");
    SignedSummary::decode(&pretty).expect("pretty decodes").verify(&key(1).verifying_key()).expect("verifies");

    let text = String::from_utf8(signed.to_bytes()).expect("utf8");
    for (from, to) in [(r#""hosts":2"#, r#""hosts":3"#), (r#""seq":7"#, r#""seq":8"#), ("2026-W49", "2026-W48")] {
        let tampered = text.replacen(from, to, 1);
        assert_ne!(tampered, text, "{from} not in the payload");
        let decoded = SignedSummary::decode(tampered.as_bytes()).expect("still well-formed");
        assert_eq!(decoded.verify(&key(1).verifying_key()), Err(SummaryError::BadSignature), "{from} -> {to}");
    }
    assert_eq!(signed.verify(&key(2).verifying_key()), Err(SummaryError::BadSignature));
}

#[test]
fn payloads_out_of_shape_are_refused_with_their_reason() {
    let good = String::from_utf8(SignedSummary::sign(sample(), &key(1)).to_bytes()).expect("utf8");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0xff, 0x00, 0x13], "malformed"),
        (vec![b' '; MAX_PAYLOAD_BYTES + 1], "too-large"),
        (b"{}".to_vec(), "unknown-schema"),
        (good.replace("wijk.signed-summary/2", "wijk.signed-summary/9").into_bytes(), "unknown-schema"),
        (good.replace("\"wijk.signed-summary/2\"", "\"wijk.signed-summary/1\"").into_bytes(), "malformed"),
        (good.replace(r#"["wijk.receipt/2"]"#, "[]").into_bytes(), "invalid"),
        (good.replace(r#""wijk.receipt/2""#, r#""<img src=x>""#).into_bytes(), "invalid"),
        (good.replace(r#""wijk.receipt/2""#, &[r#""wijk.receipt/2""#; 9].join(",")).into_bytes(), "invalid"),
        (good.replace("\"wijk.summary/1\"", "\"wijk.summary/2\"").into_bytes(), "unknown-schema"),
        (good.replacen("\"complete\":true", "\"complete\":true,\"hostname\":\"dc01\"", 1).into_bytes(), "malformed"),
        (good.replacen("\"seq\":7", "\"seq\":-7", 1).into_bytes(), "malformed"),
        (good.replacen("telnet-open", "x'); DROP TABLE summaries;--", 1).into_bytes(), "invalid"),
        (good.replacen("\"ssh\"", "\"<script>alert(1)</script>\"", 1).into_bytes(), "invalid"),
        (good.replacen("\"hosts\":2", "\"hosts\":13", 1).into_bytes(), "invalid"),
        (good.replacen("2026-W49", "2021-W53", 1).into_bytes(), "invalid"),
    ];
    for (payload, code) in cases {
        let err = SignedSummary::decode(&payload).expect_err("refused");
        assert_eq!(err.code(), code, "{err}");
    }
}

#[test]
fn validation_guards_every_bound() {
    let mut s = sample();
    s.normalise();
    s.validate().expect("sample is valid");
    type Mutation = (&'static str, fn(&mut Summary));
    let mutations: Vec<Mutation> = vec![
        ("agent", |s| s.agent = "10.0.0.1".into()),
        ("seq", |s| s.seq = 0),
        ("agent_version", |s| s.agent_version = "0.1 (build host dc01)".into()),
        ("profile", |s| s.profile = "everything".into()),
        ("counts.tls_endpoints", |s| s.counts.tls_endpoints = 31),
        ("tls", |s| s.tls.protocols.tls1_2 = 5),
        ("tls.certificates", |s| s.tls.certificates.expired = 5),
        ("services", |s| s.services.reverse()),
        ("services.services", |s| s.services[0].services = 0),
        ("weaknesses", |s| s.weaknesses.push(s.weaknesses[0].clone())),
        ("weaknesses.id", |s| s.weaknesses[1].id = "tls-1.0-Enabled".into()),
    ];
    for (field, mutate) in mutations {
        let mut bad = s.clone();
        mutate(&mut bad);
        match bad.validate() {
            Err(SummaryError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn iso_weeks_know_long_years() {
    assert!(is_iso_week("2026-W53"), "2026 starts on a Thursday");
    assert!(is_iso_week("2020-W53"), "2020 is a leap year starting on a Wednesday");
    assert!(!is_iso_week("2021-W53"));
    assert!(is_iso_week("2021-W01"));
    for bad in ["2026-W00", "2026-W54", "2026W49", "20x6-W49", "1999-W10", "2026-w49", "+026-W49"] {
        assert!(!is_iso_week(bad), "{bad}");
    }
}

#[test]
fn normalising_merges_repeats() {
    let mut s = sample();
    s.services.push(ServiceCount { kind: "ssh".into(), services: 1 });
    s.weaknesses.push(WeaknessCount { id: "telnet-open".into(), severity: Severity::Critical, hosts: 1 });
    s.normalise();
    assert_eq!(s.services.iter().find(|c| c.kind == "ssh").map(|c| c.services), Some(6));
    let telnet = s.weaknesses.iter().find(|w| w.id == "telnet-open").expect("kept");
    assert_eq!((telnet.severity, telnet.hosts), (Severity::Critical, 2));
    s.validate().expect("valid after normalising");
}
