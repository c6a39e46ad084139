//! The outbox against a model: any sequence of appends, sends (reading what is pending), receipts
//! (`stored`/`duplicate` acknowledge, `rejected` sets aside; for pending, already answered and
//! never handed out numbers alike) and crashes (the process dies and the outbox is opened again
//! from disk, also in the middle of an append) loses nothing and duplicates nothing.
//!
//! After every step the pending entries on disk equal the model's, byte for byte, the set-aside
//! count equals the model's, and no number is ever handed out twice. A crash in an append is
//! simulated at each point where the process can die: while the counter's temporary file is being
//! written (a torn `.last-seq.tmp`), after the counter is durable but while the entry's temporary
//! file is torn (the number is spent: a gap, never a repeat), and with the entry's whole temporary
//! file written but not yet renamed.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Where an append is interrupted by a crash.
#[derive(Debug, Clone, Copy)]
enum Torn {
    /// Writing the counter's temporary file.
    Counter,
    /// The counter is durable; writing the entry's temporary file.
    Entry,
    /// The entry's temporary file is whole but not renamed.
    BeforeRename,
}

/// Which number a receipt names.
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// The i-th pending entry (modulo their number), if any.
    Pending(usize),
    /// A number answered before (modulo), if any.
    Answered(usize),
    /// A number never handed out.
    Unknown(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Send,
    Ack(Pick),
    Reject(Pick),
    Crash,
    CrashInAppend(Torn, Vec<u8>, usize),
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => any::<usize>().prop_map(Pick::Pending),
        1 => any::<usize>().prop_map(Pick::Answered),
        1 => (1000u64..2000).prop_map(Pick::Unknown),
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

fn op() -> impl Strategy<Value = Op> {
    let torn = prop_oneof![Just(Torn::Counter), Just(Torn::Entry), Just(Torn::BeforeRename)];
    prop_oneof![
        6 => payload().prop_map(Op::Append),
        2 => Just(Op::Send),
        4 => pick().prop_map(Op::Ack),
        1 => pick().prop_map(Op::Reject),
        2 => Just(Op::Crash),
        2 => (torn, payload(), any::<usize>()).prop_map(|(t, p, cut)| Op::CrashInAppend(t, p, cut)),
    ]
}

/// What the outbox should hold.
#[derive(Debug, Default)]
struct Model {
    pending: BTreeMap<u64, Vec<u8>>,
    answered: Vec<u64>,
    rejected: usize,
    /// The highest number ever handed out (or spent by a crash).
    last: u64,
}

impl Model {
    fn seq(&self, pick: Pick) -> Option<u64> {
        match pick {
            Pick::Pending(i) if !self.pending.is_empty() => self.pending.keys().nth(i % self.pending.len()).copied(),
            Pick::Answered(i) if !self.answered.is_empty() => Some(self.answered[i % self.answered.len()]),
            Pick::Unknown(n) => Some(n),
            _ => None,
        }
    }
}

/// Writes the first `cut` bytes (modulo its length + 1) of `bytes` as the temporary file
/// `write_atomic` would leave beside `path` when the process died while writing it.
fn torn_tmp(path: &Path, bytes: &[u8], cut: usize) {
    let name = path.file_name().expect("name").to_string_lossy().into_owned();
    let tmp = path.with_file_name(format!(".{name}{}", crate::fsutil::TMP_SUFFIX));
    fs::write(tmp, &bytes[..cut % (bytes.len() + 1)]).expect("torn write");
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let state = tempfile::tempdir().expect("tempdir");
    let mut outbox = Outbox::open(state.path()).expect("open");
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Append(bytes) => {
                let seq = outbox.append(|_| bytes.clone()).expect("append");
                prop_assert!(seq > model.last, "number {} handed out again (last was {})", seq, model.last);
                model.last = seq;
                model.pending.insert(seq, bytes);
            }
            Op::Send => {}
            Op::Ack(pick) => {
                let Some(seq) = model.seq(pick) else { continue };
                let removed = outbox.acknowledge(seq).expect("acknowledge");
                prop_assert_eq!(removed, model.pending.remove(&seq).is_some(), "acknowledge({})", seq);
                model.answered.push(seq);
            }
            Op::Reject(pick) => {
                let Some(seq) = model.seq(pick) else { continue };
                let moved = outbox.set_aside(seq, "schema").expect("set aside");
                let was = model.pending.remove(&seq).is_some();
                prop_assert_eq!(moved, was, "set_aside({})", seq);
                model.rejected += usize::from(was);
                model.answered.push(seq);
            }
            Op::Crash => {
                drop(outbox);
                outbox = Outbox::open(state.path()).expect("reopen");
            }
            Op::CrashInAppend(torn, bytes, cut) => {
                // What append does up to the crash, under its lock; then the process is gone.
                let seq = outbox.last_seq().expect("last seq") + 1;
                let counter = outbox.dir().join(LAST_SEQ);
                match torn {
                    Torn::Counter => torn_tmp(&counter, format!("{seq}\n").as_bytes(), cut),
                    Torn::Entry | Torn::BeforeRename => {
                        fsutil::write_atomic(&counter, format!("{seq}\n").as_bytes(), 0o600).expect("counter");
                        model.last = seq;
                        let cut = if matches!(torn, Torn::BeforeRename) { bytes.len() } else { cut };
                        torn_tmp(&outbox.entry_path(seq), &bytes, cut);
                    }
                }
                drop(outbox);
                outbox = Outbox::open(state.path()).expect("reopen after a crash in append");
                let leftovers: Vec<_> = fs::read_dir(outbox.dir())
                    .expect("list")
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(crate::fsutil::TMP_SUFFIX))
                    .collect();
                prop_assert!(leftovers.is_empty(), "temporary files left after reopening: {:?}", leftovers);
            }
        }
        // A send reads what is pending; after every step it is exactly the model.
        let pending: Vec<(u64, Vec<u8>)> =
            outbox.pending().expect("pending").into_iter().map(|e| (e.seq, e.payload)).collect();
        let want: Vec<(u64, Vec<u8>)> = model.pending.iter().map(|(s, p)| (*s, p.clone())).collect();
        prop_assert_eq!(pending, want);
        prop_assert_eq!(outbox.rejected_count().expect("rejected"), model.rejected);
        prop_assert_eq!(outbox.next_seq().expect("next"), model.last + 1);
    }
    Ok(())
}

proptest! {
    // Each case touches the disk with fsyncs: few cases, long sequences.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_outbox_loses_and_duplicates_nothing(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
