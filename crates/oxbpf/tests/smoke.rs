mod common;
use common::*;

#[test]
fn percpu_count_smoke() {
    for engine in ENGINES {
        let obj = load("percpu_count", 2);
        let runner = obj.program("percpu_count").unwrap().load(engine).unwrap();
        let pkt = ipv4_udp(b"hello", 1, 2);
        let out = runner.run_xdp(&pkt).unwrap();
        assert_eq!(out.ret, 2, "{engine:?}");
        assert_eq!(out.packet, pkt);
        let v = obj
            .map("counters")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        assert_eq!(&v[0..8], &1u64.to_ne_bytes(), "{engine:?}");
    }
}
