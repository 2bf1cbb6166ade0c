//! One loaded program run from several threads at once: the example's
//! atomic adds on a shared array value lose nothing, on every engine.

mod common;

use common::*;

#[test]
fn parallel_runs_lose_no_atomic_adds() {
    const THREADS: u64 = 4;
    const RUNS: u64 = 500;
    let pkt = ipv4_udp(b"zz", 7, 9);
    for engine in ENGINES {
        let obj = load("parse", 1);
        let runner = obj.program("parse").unwrap().load(engine).unwrap();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..RUNS {
                        assert_eq!(runner.run_xdp(&pkt).unwrap().ret, 2);
                    }
                });
            }
        });
        let counts = obj.array::<u64>("proto_count").unwrap();
        assert_eq!(counts.get(17).unwrap(), THREADS * RUNS, "{engine:?}");
    }
}
