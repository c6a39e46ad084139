//! CPU time of processes and of their threads, read from `/proc`, for the benchmarks that show
//! where the time goes (which process, which thread is the bottleneck).

use std::collections::BTreeMap;

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`: 100 on every Linux here).
const CLOCK_TICKS: f64 = 100.0;

/// utime + stime in seconds from the text of a `stat` file, and the name between its parentheses.
fn parse_stat(stat: &str) -> Option<(String, f64)> {
    // The command name (field 2) may hold spaces and parentheses: it ends at the last ')'. Field 3
    // (state) is the first after it; utime and stime are fields 14 and 15.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    Some((name, (f.get(11)? + f.get(12)?) / CLOCK_TICKS))
}

/// CPU seconds (user + system, all threads, ended ones included) process `pid` has used so far;
/// 0 when it is gone.
pub fn process_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| parse_stat(&s)).map_or(0.0, |(_, s)| s)
}

/// CPU seconds so far of the live threads of `pid`, added up per thread name, each name prefixed
/// with the process's (`wijkpost/router-0`); the time of threads that have ended is under
/// `<process>/(ended threads)` (the process's total minus its live threads').
pub fn thread_seconds(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return out };
    let Some((process, total)) = parse_stat(&stat) else { return out };
    let mut live = 0.0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            if let Some((name, secs)) = parse_stat(&text) {
                *out.entry(format!("{process}/{name}")).or_insert(0.0) += secs;
                live += secs;
            }
        }
    }
    out.insert(format!("{process}/(ended threads)"), (total - live).max(0.0));
    out
}

/// The CPU seconds per thread name of every process in `pids`, as [`thread_seconds`]; the same name
/// in several processes (PostgreSQL's one process per connection) is added up.
pub fn threads_of(pids: &[u32]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, secs) in pids.iter().flat_map(|&p| thread_seconds(p)) {
        *out.entry(name).or_insert(0.0) += secs;
    }
    out
}

/// One thread name's share of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThreadLoad {
    /// `process/thread`.
    pub thread: String,
    /// CPU seconds in the run divided by the run's wall time: 1.0 is one core fully busy.
    pub cores: f64,
    /// CPU µs per message of the run.
    pub cpu_us_per_msg: f64,
}

/// The `top` thread names that used the most CPU between `before` and `after` ([`threads_of`]),
/// over `wall_s` seconds and `messages` messages; threads that used none are left out.
pub fn busiest(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    wall_s: f64,
    messages: usize,
    top: usize,
) -> Vec<ThreadLoad> {
    let mut loads: Vec<ThreadLoad> = after
        .iter()
        .map(|(thread, &secs)| {
            let used = (secs - before.get(thread).copied().unwrap_or(0.0)).max(0.0);
            ThreadLoad {
                thread: thread.clone(),
                cores: used / wall_s.max(1e-9),
                cpu_us_per_msg: used * 1e6 / messages.max(1) as f64,
            }
        })
        .filter(|load| load.cores > 0.0)
        .collect();
    loads.sort_by(|a, b| b.cores.total_cmp(&a.cores));
    loads.truncate(top);
    loads
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process_name(pid: u32) -> String {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        parse_stat(&stat).expect("parsed").0
    }

    #[test]
    fn a_stat_line_gives_its_name_and_cpu_even_with_parentheses_in_the_name() {
        let line = "42 (tokio (w) 1) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        let (name, secs) = parse_stat(line).expect("parsed");
        assert_eq!(name, "tokio (w) 1");
        assert!((secs - 3.0).abs() < 1e-9, "{secs}");
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn the_busiest_threads_come_first_and_idle_ones_are_left_out() {
        let before = BTreeMap::from([("p/a".to_string(), 1.0), ("p/b".to_string(), 2.0), ("p/c".to_string(), 5.0)]);
        let after = BTreeMap::from([
            ("p/a".to_string(), 1.5),
            ("p/b".to_string(), 4.0),
            ("p/c".to_string(), 5.0),
            ("p/new".to_string(), 0.25),
        ]);
        let loads = busiest(&before, &after, 2.0, 1000, 2);
        let names: Vec<&str> = loads.iter().map(|l| l.thread.as_str()).collect();
        assert_eq!(names, ["p/b", "p/a"], "{loads:?}");
        assert!((loads[0].cores - 1.0).abs() < 1e-9 && (loads[0].cpu_us_per_msg - 2000.0).abs() < 1e-6);
        let all = busiest(&before, &after, 2.0, 1000, 10);
        assert_eq!(all.len(), 3, "p/c used nothing: {all:?}");
    }

    #[test]
    fn the_same_process_twice_counts_twice() {
        let pid = std::process::id();
        // Enough CPU time used that counting it once instead of twice shows (bounded: 2 s).
        let started = std::time::Instant::now();
        let mut x = 1u64;
        while process_seconds(pid) < 0.2 && started.elapsed() < std::time::Duration::from_secs(2) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let once = threads_of(&[pid]);
        let twice = threads_of(&[pid, pid]);
        let name = format!("{}/(ended threads)", process_name(pid));
        assert!(twice.contains_key(&name) && once.len() == twice.len(), "{twice:?}");
        let (one, two): (f64, f64) = (once.values().sum(), twice.values().sum());
        assert!(two >= 2.0 * one - 3.0 / CLOCK_TICKS, "{one} then {two}");
    }

    #[test]
    fn this_process_threads_add_up_to_its_total() {
        let pid = std::process::id();
        let spin = std::thread::Builder::new()
            .name("spinner".into())
            .spawn(|| {
                let started = std::time::Instant::now();
                let mut x = 0u64;
                while started.elapsed() < std::time::Duration::from_millis(300) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(200));
        // Other tests run in this process meanwhile: the threads' sum is the process's total at
        // the moment it was read, between a reading just before and one just after (give or take
        // the kernel's rounding of each thread's share to clock ticks).
        let before = process_seconds(pid);
        let threads = thread_seconds(pid);
        let after = process_seconds(pid);
        let _ = spin.join();
        let total: f64 = threads.values().sum();
        let slack = 3.0 / CLOCK_TICKS;
        assert!(before - slack <= total && total <= after + slack, "{before} ≤ {total} ≤ {after}: {threads:?}");
        assert!(threads.get(&format!("{}/spinner", process_name(pid))).is_some_and(|&s| s > 0.0), "{threads:?}");
    }
}
