use super::*;

fn payload(seq: u64) -> Vec<u8> {
    format!("{{\"seq\":{seq}}}").into_bytes()
}

#[test]
fn entries_wait_until_acknowledged_and_survive_reopening() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    assert_eq!((outbox.append(payload).expect("1"), outbox.append(payload).expect("2")), (1, 2));
    assert_eq!(outbox.append(payload).expect("3"), 3);
    assert!(outbox.acknowledge(2).expect("ack"));
    assert!(!outbox.acknowledge(2).expect("ack again"), "a second receipt for the same seq changes nothing");

    let reopened = Outbox::open(state.path()).expect("reopen");
    let pending = reopened.pending().expect("pending");
    assert_eq!(pending, vec![Entry { seq: 1, payload: payload(1) }, Entry { seq: 3, payload: payload(3) }]);
}

#[test]
fn numbers_are_never_handed_out_twice() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    for _ in 0..3 {
        outbox.append(payload).expect("append");
    }
    for seq in 1..=3 {
        outbox.acknowledge(seq).expect("ack");
    }
    assert_eq!(outbox.append(payload).expect("after an empty queue"), 4);

    // A lost counter: the highest entry still rules.
    fs::remove_file(outbox.dir().join(LAST_SEQ)).expect("rm");
    assert_eq!(outbox.next_seq().expect("next"), 5);
}

#[test]
fn a_crash_between_counter_and_entry_leaves_a_gap_not_a_repeat() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    outbox.append(payload).expect("1");
    // The state a crash after writing the counter for 2 but before renaming its entry leaves.
    fs::write(outbox.dir().join(LAST_SEQ), "2\n").expect("counter");
    fs::write(outbox.dir().join(".00000000000000000002.json.tmp"), b"{\"seq\":").expect("torn tmp");

    let reopened = Outbox::open(state.path()).expect("reopen");
    assert_eq!(reopened.seqs().expect("seqs"), vec![1], "the torn entry is not an entry");
    assert!(!reopened.dir().join(".00000000000000000002.json.tmp").exists(), "leftover removed");
    assert_eq!(reopened.append(payload).expect("next"), 3);
}

#[test]
fn rejected_entries_are_kept_aside_with_the_reason() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    outbox.append(payload).expect("1");
    assert!(outbox.set_aside(1, "bad-signature: signature does not match").expect("aside"));
    assert!(outbox.pending().expect("pending").is_empty());
    assert_eq!(outbox.rejected_count().expect("count"), 1);
    let reason = fs::read_to_string(outbox.dir().join("rejected/00000000000000000001.reason")).expect("reason");
    assert!(reason.starts_with("bad-signature"));
}

#[test]
fn a_damaged_counter_is_an_error_that_names_the_file() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    fs::write(outbox.dir().join(LAST_SEQ), "twelve").expect("write");
    let err = outbox.append(payload).expect_err("refused");
    assert!(err.to_string().contains("last-seq") && err.to_string().contains("twelve"), "{err}");
    assert!(outbox.pending().expect("pending").is_empty(), "nothing written under a damaged counter");
}

#[test]
fn appenders_in_parallel_never_share_a_number() {
    let state = tempfile::tempdir().expect("tempdir");
    Outbox::open(state.path()).expect("open");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let dir = state.path().to_path_buf();
            std::thread::spawn(move || {
                // Each thread its own handle, as separate processes would have.
                let outbox = Outbox::open(&dir).expect("open");
                (0..25).map(|_| outbox.append(payload).expect("append")).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
    let pending = Outbox::open(state.path()).expect("open").pending().expect("pending");
    assert_eq!(pending.len(), 100);
    assert!(pending.iter().all(|e| e.payload == payload(e.seq)), "every entry holds its own number's payload");
}

#[test]
fn a_receipt_for_many_removes_those_still_there_and_counts_them() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    for _ in 0..5 {
        outbox.append(payload).expect("append");
    }
    assert!(outbox.acknowledge(2).expect("ack 2"));
    assert_eq!(outbox.acknowledge_all(&[1, 2, 3, 9]).expect("ack several"), 2, "2 went before, 9 never was");
    assert_eq!(outbox.seqs().expect("seqs"), vec![4, 5]);
    assert_eq!(outbox.acknowledge_all(&[]).expect("none"), 0);
}

#[test]
fn an_entry_that_cannot_be_removed_is_named_and_the_ones_before_it_are_gone() {
    let state = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::open(state.path()).expect("open");
    for _ in 0..4 {
        outbox.append(payload).expect("append");
    }
    // Entry 3 replaced by a directory: unlinking it fails whatever the permissions.
    let third = outbox.dir().join(format!("{:020}.json", 3));
    fs::remove_file(&third).expect("rm 3");
    fs::create_dir(&third).expect("dir 3");

    let error = outbox.acknowledge_all(&[1, 3, 4]).expect_err("3 cannot go");
    assert!(error.to_string().contains(&format!("{:020}.json", 3)), "{error}");
    assert_eq!(outbox.seqs().expect("seqs"), vec![2, 3, 4], "1 is gone, 4 waits for its next receipt");
}

#[test]
#[ignore = "measurement: cargo test -p wijkagent --release --lib emptying_an_outbox -- --ignored --nocapture"]
fn emptying_an_outbox_one_by_one_and_by_batch_receipts() {
    const ENTRIES: u64 = 2048;
    for (how, per_receipt) in [("one receipt per entry", 1), ("wijk.receipt/2, 512 per receipt", 512)] {
        let state = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("tempdir on the project's disk");
        let outbox = Outbox::open(state.path()).expect("open");
        for _ in 0..ENTRIES {
            outbox.append(payload).expect("append");
        }
        let seqs: Vec<u64> = (1..=ENTRIES).collect();
        let start = std::time::Instant::now();
        for chunk in seqs.chunks(per_receipt) {
            assert_eq!(outbox.acknowledge_all(chunk).expect("ack"), chunk.len());
        }
        let took = start.elapsed();
        println!(
            "{how}: {ENTRIES} entries removed in {took:.2?} ({:.1} µs each)",
            took.as_secs_f64() * 1e6 / ENTRIES as f64
        );
    }
}
