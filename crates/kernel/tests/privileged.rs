//! Tests against the real kernel: maps, program loads, test runs, the
//! verifier log, pinning, BTF, XDP links and the kernel engine. They need
//! root and `bpf(2)`; see `common` for how they report themselves when
//! they cannot run.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{ensure, ensure_eq, privileged};
use libtest_mimic::{Arguments, Failed};
use oxbpf_abi::Trap;
use oxbpf_abi::map_kind::{MapKind, update};
use oxbpf_isa::{RawInsn, Reg, asm::assemble, encode};
use oxbpf_kernel::link::{LINK_TYPE_TCX, LINK_TYPE_XDP};
use oxbpf_kernel::prog::{attach_type, prog_type, tc_action, xdp_action};
use oxbpf_kernel::{
    Errno, KernelBtf, KernelEngine, KernelError, KernelMap, KernelProgram, MapBtf, MapSpec,
    ProgramSpec, TcDirection, TcxLink, TestRun, XdpLink, XdpMode, pin, sys,
};
use oxbpf_runtime::{
    Engine, EngineError, Executable, HelperTable, Program, RegionKind, RunState,
    helpers::conformance,
};

fn asm(src: &str) -> Vec<RawInsn> {
    encode(&assemble(src).expect("test program assembles"))
}

fn u32k(k: u32) -> [u8; 4] {
    k.to_ne_bytes()
}

fn u64v(v: u64) -> [u8; 8] {
    v.to_ne_bytes()
}

// --- maps -------------------------------------------------------------------

fn array_map_update_lookup_and_iterate() -> Result<(), Failed> {
    let map = KernelMap::create(&MapSpec::new("t_array", MapKind::Array, 4, 8, 4))?;
    // Array elements exist from creation, zeroed.
    ensure_eq(map.lookup(&u32k(3))?, Some(vec![0; 8]), "fresh element 3")?;
    map.update(&u32k(1), &u64v(0x1122_3344_5566_7788), update::BPF_ANY)?;
    map.update(&u32k(3), &u64v(42), update::BPF_EXIST)?;
    ensure_eq(
        map.lookup(&u32k(1))?,
        Some(u64v(0x1122_3344_5566_7788).to_vec()),
        "element 1",
    )?;
    ensure_eq(map.lookup(&u32k(3))?, Some(u64v(42).to_vec()), "element 3")?;
    // Out of range: no element.
    ensure_eq(map.lookup(&u32k(4))?, None, "element 4 of 4")?;
    // Arrays iterate over every index in order.
    let keys: Vec<Vec<u8>> = map.keys().collect::<Result<_, _>>()?;
    let expected: Vec<Vec<u8>> = (0..4u32).map(|k| u32k(k).to_vec()).collect();
    ensure_eq(keys, expected, "array keys")?;
    // The kernel refuses to delete array elements (array_map_delete_elem).
    match map.delete(&u32k(1)) {
        Err(KernelError::Syscall { errno, .. }) => ensure_eq(errno, Errno(libc::EINVAL), "errno"),
        other => Err(format!("delete on an array: {other:?}").into()),
    }
}

fn hash_map_create_update_lookup_delete_iterate() -> Result<(), Failed> {
    let map = KernelMap::create(&MapSpec::new("t_hash", MapKind::Hash, 4, 8, 8))?;
    ensure_eq(map.spec().kind, MapKind::Hash, "kind")?;
    for (k, v) in [(10u32, 100u64), (20, 200), (30, 300)] {
        map.update(&u32k(k), &u64v(v), update::BPF_NOEXIST)?;
    }
    ensure_eq(map.lookup(&u32k(20))?, Some(u64v(200).to_vec()), "key 20")?;
    ensure_eq(map.lookup(&u32k(25))?, None, "missing key 25")?;
    match map.update(&u32k(10), &u64v(1), update::BPF_NOEXIST) {
        Err(KernelError::Syscall { errno, .. }) => ensure_eq(errno, Errno(libc::EEXIST), "errno")?,
        other => return Err(format!("NOEXIST on an existing key: {other:?}").into()),
    }
    map.update(&u32k(10), &u64v(111), update::BPF_EXIST)?;
    ensure_eq(map.delete(&u32k(30))?, true, "delete 30")?;
    ensure_eq(map.delete(&u32k(30))?, false, "delete 30 again")?;
    let keys: BTreeSet<Vec<u8>> = map.keys().collect::<Result<_, _>>()?;
    let expected: BTreeSet<Vec<u8>> = [u32k(10).to_vec(), u32k(20).to_vec()].into();
    ensure_eq(keys, expected, "hash keys")?;
    let entries: BTreeSet<(Vec<u8>, Vec<u8>)> = map.entries()?.into_iter().collect();
    let expected: BTreeSet<(Vec<u8>, Vec<u8>)> = [
        (u32k(10).to_vec(), u64v(111).to_vec()),
        (u32k(20).to_vec(), u64v(200).to_vec()),
    ]
    .into();
    ensure_eq(entries, expected, "hash entries")?;
    let info = map.info()?;
    ensure_eq(
        (info.key_size, info.value_size, info.max_entries),
        (4, 8, 8),
        "info sizes",
    )?;
    ensure_eq(
        sys::name_from(&info.name),
        "t_hash".to_string(),
        "info name",
    )
}

fn percpu_array_holds_one_value_per_cpu() -> Result<(), Failed> {
    let map = KernelMap::create(&MapSpec::new("t_pcpu", MapKind::PercpuArray, 4, 4, 1))?;
    let cpus = sys::possible_cpus()?;
    // 4-byte values travel in 8-byte slots, one per possible CPU.
    ensure_eq(map.value_buffer_size(), 8 * cpus, "percpu buffer size")?;
    let mut all = vec![0u8; 8 * cpus];
    for cpu in 0..cpus {
        all[cpu * 8..cpu * 8 + 4].copy_from_slice(&(1000 + cpu as u32).to_ne_bytes());
    }
    map.update(&u32k(0), &all, update::BPF_ANY)?;
    let per_cpu = map.lookup_percpu(&u32k(0))?.ok_or("element 0 missing")?;
    let expected: Vec<Vec<u8>> = (0..cpus)
        .map(|c| (1000 + c as u32).to_ne_bytes().to_vec())
        .collect();
    ensure_eq(per_cpu, expected, "per-CPU values")
}

fn frozen_map_refuses_syscall_writes() -> Result<(), Failed> {
    let map = KernelMap::create(&MapSpec::new("t_frozen", MapKind::Array, 4, 8, 1))?;
    map.update(&u32k(0), &u64v(9), update::BPF_ANY)?;
    map.freeze()?;
    match map.update(&u32k(0), &u64v(10), update::BPF_ANY) {
        Err(KernelError::Syscall { errno, .. }) => ensure_eq(errno.0, libc::EPERM, "errno")?,
        other => return Err(format!("update of a frozen map: {other:?}").into()),
    }
    ensure_eq(map.lookup(&u32k(0))?, Some(u64v(9).to_vec()), "value kept")
}

fn wrong_key_size_is_refused_before_the_kernel() -> Result<(), Failed> {
    let map = KernelMap::create(&MapSpec::new("t_size", MapKind::Hash, 4, 8, 1))?;
    match map.lookup(&[0u8; 3]) {
        Err(KernelError::Size {
            expected: 4,
            found: 3,
            ..
        }) => Ok(()),
        other => Err(format!("3-byte key: {other:?}").into()),
    }
}

// --- programs ---------------------------------------------------------------

fn program_loads_and_test_run_returns_its_value() -> Result<(), Failed> {
    let insns = asm("mov %r0, 3\nexit\n");
    let prog = KernelProgram::load(&ProgramSpec::xdp("t_ret3", &insns))?;
    let out = prog.test_run(&mut TestRun::with_data(&[0u8; 14]))?;
    ensure_eq(out.retval, xdp_action::TX, "retval")?;
    ensure_eq(out.data, vec![0u8; 14], "packet unchanged")?;
    let info = prog.info()?;
    ensure_eq(info.prog_type, prog_type::XDP, "program type")?;
    ensure_eq(sys::name_from(&info.name), "t_ret3".to_string(), "name")?;
    ensure(info.id != 0, || "program id is 0".into())
}

/// Writes 0xab to the first packet byte behind a bounds check and returns
/// XDP_DROP.
const WRITE_FIRST_BYTE: &str = "
ldxw %r2, [%r1+4]
ldxw %r1, [%r1+0]
mov %r3, %r1
add %r3, 1
jgt %r3, %r2, out
stb [%r1+0], 0xab
out:
mov %r0, 1
exit
";

fn test_run_returns_the_modified_packet_and_repeats() -> Result<(), Failed> {
    let insns = asm(WRITE_FIRST_BYTE);
    let prog = KernelProgram::load(&ProgramSpec::xdp("t_write", &insns))?;
    let packet: Vec<u8> = (1..=20).collect();
    let out = prog.test_run(&mut TestRun {
        repeat: 1000,
        ..TestRun::with_data(&packet)
    })?;
    ensure_eq(out.retval, xdp_action::DROP, "retval")?;
    let mut expected = packet.clone();
    expected[0] = 0xab;
    ensure_eq(out.data, expected, "packet after the run")
}

fn rejected_load_carries_the_verifier_log() -> Result<(), Failed> {
    // r5 is never written: the verifier refuses to read it.
    let insns = asm("mov %r0, %r5\nexit\n");
    match KernelProgram::load(&ProgramSpec::xdp("t_bad", &insns)) {
        Err(e @ KernelError::Verifier { .. }) => {
            let KernelError::Verifier { errno, log, name } = &e else {
                unreachable!()
            };
            ensure_eq(errno.0, libc::EACCES, "errno")?;
            ensure_eq(name.as_str(), "t_bad", "name")?;
            ensure(log.contains("R5 !read_ok"), || {
                format!("log lacks the verifier's reason:\n{log}")
            })?;
            let shown = e.to_string();
            ensure(shown.contains("R5 !read_ok"), || {
                format!("message does not show the log: {shown}")
            })
        }
        other => Err(format!("load of an invalid program: {other:?}").into()),
    }
}

fn log_level_two_logs_a_successful_load() -> Result<(), Failed> {
    let insns = asm("mov %r0, 2\nexit\n");
    let prog = KernelProgram::load(&ProgramSpec {
        log_level: 2,
        ..ProgramSpec::xdp("t_log", &insns)
    })?;
    ensure(prog.log().contains("processed 2 insns"), || {
        format!("log: {}", prog.log())
    })
}

// --- pinning ------------------------------------------------------------------

fn pinned_map_is_the_same_map() -> Result<(), Failed> {
    pin::ensure_bpffs()?;
    let dir = std::path::PathBuf::from(format!("/sys/fs/bpf/oxbpf-test-{}", std::process::id()));
    let path = dir.join("pinned_map");
    let result = (|| -> Result<(), Failed> {
        let map = KernelMap::create(&MapSpec::new("t_pin", MapKind::Hash, 4, 8, 4))?;
        map.pin(&path)?;
        let again = KernelMap::from_pin(&path)?;
        ensure_eq(again.id(), map.id(), "map id through the pin")?;
        ensure_eq(again.spec().kind, MapKind::Hash, "kind through the pin")?;
        map.update(&u32k(5), &u64v(55), update::BPF_ANY)?;
        ensure_eq(again.lookup(&u32k(5))?, Some(u64v(55).to_vec()), "value")?;
        // Programs pin the same way.
        let insns = asm("mov %r0, 2\nexit\n");
        let prog = KernelProgram::load(&ProgramSpec::xdp("t_pinprog", &insns))?;
        let prog_path = dir.join("prog");
        prog.pin(&prog_path)?;
        let reopened = KernelProgram::from_pin(&prog_path)?;
        ensure_eq(reopened.info()?.id, prog.info()?.id, "program id")?;
        // A program is not a map, and a map not a program.
        match KernelMap::from_pin(&prog_path) {
            Err(KernelError::Invalid {
                what: "file descriptor",
                ..
            }) => {}
            other => return Err(format!("program opened as a map: {other:?}").into()),
        }
        ensure(KernelProgram::from_pin(&path).is_err(), || {
            "map opened as a program".into()
        })?;
        ensure_eq(pin::unpin(&prog_path)?, true, "unpin program")?;
        Ok(())
    })();
    let unpinned = pin::unpin(&path);
    let _ = std::fs::remove_dir(&dir);
    result?;
    ensure_eq(unpinned?, true, "unpin map")?;
    ensure(KernelMap::from_pin(&path).is_err(), || {
        "pin still there".into()
    })
}

fn pinning_outside_bpffs_is_refused() -> Result<(), Failed> {
    let map = KernelMap::create(&MapSpec::new("t_nopin", MapKind::Array, 4, 4, 1))?;
    let dir = std::env::temp_dir().join(format!("oxbpf-nopin-{}", std::process::id()));
    let result = map.pin(&dir.join("m"));
    let _ = std::fs::remove_dir(&dir);
    match result {
        Err(KernelError::Invalid {
            what: "pin path", ..
        }) => Ok(()),
        other => Err(format!("pin under {}: {other:?}", dir.display()).into()),
    }
}

// --- BTF --------------------------------------------------------------------

/// A BTF blob with one type: `int` (id 1), 32-bit signed.
fn btf_with_int(magic: u16) -> Vec<u8> {
    let strings = b"\0int\0";
    let mut types = Vec::new();
    types.extend_from_slice(&1u32.to_ne_bytes()); // name_off: "int"
    types.extend_from_slice(&(1u32 << 24).to_ne_bytes()); // kind INT, vlen 0
    types.extend_from_slice(&4u32.to_ne_bytes()); // size
    types.extend_from_slice(&((1u32 << 24) | 32).to_ne_bytes()); // signed, 32 bits
    let mut b = Vec::new();
    b.extend_from_slice(&magic.to_ne_bytes());
    b.push(1); // version
    b.push(0); // flags
    b.extend_from_slice(&24u32.to_ne_bytes()); // hdr_len
    b.extend_from_slice(&0u32.to_ne_bytes()); // type_off
    b.extend_from_slice(&(types.len() as u32).to_ne_bytes());
    b.extend_from_slice(&(types.len() as u32).to_ne_bytes()); // str_off
    b.extend_from_slice(&(strings.len() as u32).to_ne_bytes());
    b.extend_from_slice(&types);
    b.extend_from_slice(strings);
    b
}

fn btf_loads_and_types_a_map() -> Result<(), Failed> {
    let btf = KernelBtf::load(&btf_with_int(0xeb9f))?;
    sys::expect_fd_kind(std::os::fd::AsFd::as_fd(&btf), sys::FdKind::Btf)?;
    let map = KernelMap::create_with(
        &MapSpec::new("t_btf", MapKind::Hash, 4, 4, 2),
        Some(MapBtf {
            btf: std::os::fd::AsFd::as_fd(&btf),
            key_type_id: 1,
            value_type_id: 1,
        }),
        None,
    )?;
    let info = map.info()?;
    ensure(info.btf_id != 0, || "map has no BTF id".into())?;
    ensure_eq(
        (info.btf_key_type_id, info.btf_value_type_id),
        (1, 1),
        "BTF type ids",
    )
}

fn bad_btf_is_rejected_with_the_kernel_log() -> Result<(), Failed> {
    match KernelBtf::load(&btf_with_int(0x1234)) {
        Err(KernelError::Btf { errno, log }) => {
            ensure_eq(errno.0, libc::EINVAL, "errno")?;
            ensure(log.to_lowercase().contains("magic"), || {
                format!("BTF log does not mention the magic: {log:?}")
            })
        }
        other => Err(format!("bad magic: {other:?}").into()),
    }
}

// --- XDP link -----------------------------------------------------------------

fn xdp_link_attaches_in_a_private_network_namespace() -> Result<(), Failed> {
    // A thread of its own, moved to a new network namespace: its `lo` is
    // not the host's, and the namespace dies with the thread.
    std::thread::spawn(|| -> Result<(), String> {
        sys::unshare_net_namespace().map_err(|e| e.to_string())?;
        let ifindex = sys::if_nametoindex("lo").map_err(|e| e.to_string())?;
        let insns = asm("mov %r0, 2\nexit\n");
        let prog = KernelProgram::load(&ProgramSpec::xdp("t_link", &insns))
            .map_err(|e| e.to_string())?;
        let link = XdpLink::attach(&prog, ifindex, XdpMode::Generic).map_err(|e| e.to_string())?;
        sys::expect_fd_kind(std::os::fd::AsFd::as_fd(&link), sys::FdKind::Link)
            .map_err(|e| e.to_string())?;
        let info = link.info().map_err(|e| e.to_string())?;
        let prog_id = prog.info().map_err(|e| e.to_string())?.id;
        if info.link_type != LINK_TYPE_XDP || info.prog_id != prog_id || info.union[0] != ifindex {
            return Err(format!(
                "link info: type {} prog {} ifindex {}, expected {LINK_TYPE_XDP} {prog_id} {ifindex}",
                info.link_type, info.prog_id, info.union[0]
            ));
        }
        // A second link on the same interface is refused while the first
        // lives.
        match XdpLink::attach(&prog, ifindex, XdpMode::Generic) {
            Err(KernelError::Syscall { errno, .. }) if errno.0 == libc::EBUSY => {}
            other => return Err(format!("second attach: {other:?}")),
        }
        drop(link);
        // Detached with the link: attaching again works.
        XdpLink::attach(&prog, ifindex, XdpMode::Generic).map_err(|e| e.to_string())?;
        Ok(())
    })
    .join()
    .map_err(|_| "namespace thread panicked")??;
    Ok(())
}

fn tcx_link_attaches_in_a_private_network_namespace() -> Result<(), Failed> {
    std::thread::spawn(|| -> Result<(), String> {
        sys::unshare_net_namespace().map_err(|e| e.to_string())?;
        let ifindex = sys::if_nametoindex("lo").map_err(|e| e.to_string())?;
        // TC_ACT_SHOT.
        let insns = asm("mov %r0, 2\nexit\n");
        let prog =
            KernelProgram::load(&ProgramSpec::tc("t_tcx", &insns)).map_err(|e| e.to_string())?;
        // A classifier test-runs on an skb built from the data.
        let out = prog
            .test_run(&mut TestRun::with_data(&[0u8; 14]))
            .map_err(|e| e.to_string())?;
        if out.retval != tc_action::SHOT as u32 {
            return Err(format!("tc test run returned {}", out.retval));
        }
        let prog_id = prog.info().map_err(|e| e.to_string())?.id;
        let ingress =
            TcxLink::attach(&prog, ifindex, TcDirection::Ingress).map_err(|e| e.to_string())?;
        // A hook takes several programs, but each only once.
        match TcxLink::attach(&prog, ifindex, TcDirection::Ingress) {
            Err(KernelError::Syscall { errno, .. }) if errno.0 == libc::EEXIST => {}
            other => return Err(format!("same program twice on one hook: {other:?}")),
        }
        let other =
            KernelProgram::load(&ProgramSpec::tc("t_tcx2", &insns)).map_err(|e| e.to_string())?;
        let _second =
            TcxLink::attach(&other, ifindex, TcDirection::Ingress).map_err(|e| e.to_string())?;
        let egress =
            TcxLink::attach(&prog, ifindex, TcDirection::Egress).map_err(|e| e.to_string())?;
        for (link, attach) in [
            (&ingress, attach_type::TCX_INGRESS),
            (&egress, attach_type::TCX_EGRESS),
        ] {
            let info = link.info().map_err(|e| e.to_string())?;
            let got = (info.link_type, info.prog_id, info.union[0], info.union[1]);
            let want = (LINK_TYPE_TCX, prog_id, ifindex, attach);
            if got != want {
                return Err(format!(
                    "tcx link info (type, prog, ifindex, attach) {got:?}, expected {want:?}"
                ));
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| "namespace thread panicked")??;
    Ok(())
}

// --- the kernel engine ----------------------------------------------------------

fn checked(src: &str, helpers: HelperTable) -> Program {
    Program::checked(
        assemble(src).expect("assembles"),
        Arc::new(helpers),
        &[Reg::R1, Reg::R2],
    )
    .expect("passes the read-before-write check")
}

fn engine_returns_all_64_bits_of_r0() -> Result<(), Failed> {
    let program = checked("lddw %r0, 0x8123456789abcdef\nexit\n", conformance::table());
    let exe = KernelEngine::new().load(&program)?;
    let mut state = RunState::new();
    let r0 = exe.run(&mut state, [0; 5]).map_err(|t| t.to_string())?;
    ensure_eq(r0, 0x8123_4567_89ab_cdef, "r0")
}

fn engine_passes_memory_and_copies_it_back() -> Result<(), Failed> {
    // r0 = r2 + mem[0] + mem[2]; mem[1] = 0x77.
    let program = checked(
        "ldxb %r3, [%r1]\nldxb %r4, [%r1+2]\nstb [%r1+1], 0x77\n\
         mov %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nexit\n",
        conformance::table(),
    );
    let exe = KernelEngine::new().load_kernel(&program)?;
    let mut mem = [5u8, 0, 9];
    let mut state = RunState::new();
    let addr = state.add_memory(&mut mem, RegionKind::Input);
    let run = exe
        .run_kernel(&mut state, [addr, 3, 0, 0, 0])
        .map_err(|e| e.to_string())?;
    ensure_eq(run.r0, 3 + 5 + 9, "r0")?;
    drop(state);
    ensure_eq(mem, [5, 0x77, 9], "memory after the run")
}

fn engine_refuses_conformance_helpers() -> Result<(), Failed> {
    let program = checked("call 2\nexit\n", conformance::table());
    match KernelEngine::new().load(&program) {
        Err(EngineError::Unsupported { index: 0, .. }) => Ok(()),
        other => Err(format!("call 2 of the conformance table: {:?}", other.err()).into()),
    }
}

fn engine_reports_the_verifier_log_at_load() -> Result<(), Failed> {
    // A loop that never changes state: the verifier sees it come back to
    // an identical state and refuses it.
    let program = checked("mov %r0, 0\nloop:\nja loop\n", conformance::table());
    match KernelEngine::new().load(&program) {
        Err(EngineError::Rejected { reason, .. }) => {
            ensure(reason.contains("infinite loop detected"), || {
                format!("reason lacks the verifier's words: {reason}")
            })
        }
        other => Err(format!("infinite loop: {:?}", other.err()).into()),
    }
}

fn huge_verifier_log_keeps_its_verdict_and_errno() -> Result<(), Failed> {
    // r0 changes every iteration, so the verifier walks the loop until its
    // 1M-instruction budget runs out, logging far more than the buffer.
    let insns = asm("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\n");
    match KernelProgram::load(&ProgramSpec::xdp("t_huge", &insns)) {
        Err(KernelError::Verifier { errno, log, .. }) => {
            ensure_eq(errno.0, libc::E2BIG, "errno of a too complex program")?;
            ensure(log.starts_with("[verifier log truncated"), || {
                format!("no truncation note: {}", &log[..log.len().min(200)])
            })?;
            let tail = &log[log.len().saturating_sub(300)..];
            ensure(tail.contains("too large"), || format!("log tail: {tail}"))
        }
        other => Err(format!("endless loop: {other:?}").into()),
    }
}

fn engine_run_that_the_kernel_rejects_traps_unsupported() -> Result<(), Failed> {
    // Fine for 16 bytes (the probe at load), rejected for 4: the variant
    // for the actual run cannot load.
    let program = checked("ldxb %r0, [%r1+15]\nexit\n", conformance::table());
    let exe = KernelEngine::new().load_kernel(&program)?;
    let mut mem = [0u8; 4];
    let mut state = RunState::new();
    let addr = state.add_memory(&mut mem, RegionKind::Input);
    match exe.run(&mut state, [addr, 4, 0, 0, 0]) {
        Err(t) => ensure_eq(t.trap, Trap::Unsupported, "trap")?,
        Ok(r0) => return Err(format!("out-of-bounds read returned {r0}").into()),
    }
    match exe.run_kernel(&mut state, [addr, 4, 0, 0, 0]) {
        Err(KernelError::Verifier { log, .. }) => {
            ensure(log.contains("invalid access to packet"), || {
                format!("log: {log}")
            })
        }
        other => Err(format!("detailed run: {other:?}").into()),
    }
}

fn test_run_repeat_times_the_kernel_jit() -> Result<(), Failed> {
    let program = checked(
        "mov %r0, 0\nmov %r3, 0\nloop:\nadd %r0, %r3\nadd %r3, 1\njlt %r3, 100, loop\nexit\n",
        conformance::table(),
    );
    let exe = KernelEngine::new().load_kernel(&program)?;
    let mut state = RunState::new();
    let run = exe
        .test_run_repeat(&mut state, [0; 5], 1000)
        .map_err(|e| e.to_string())?;
    // Sum of 0..100.
    ensure_eq(run.r0, 4950, "r0 after 1000 runs")
}

fn engine_runs_the_same_executable_with_different_lengths() -> Result<(), Failed> {
    let program = checked("mov %r0, %r2\nexit\n", conformance::table());
    let exe = KernelEngine::new().load(&program)?;
    for len in [1usize, 14, 100] {
        let mut mem = vec![0u8; len];
        let mut state = RunState::new();
        let addr = state.add_memory(&mut mem, RegionKind::Input);
        let r0 = exe
            .run(&mut state, [addr, len as u64, 0, 0, 0])
            .map_err(|t| t.to_string())?;
        ensure_eq(r0, len as u64, "r2 seen by the program")?;
    }
    Ok(())
}

fn engine_verifier_log_shows_the_run_variant() -> Result<(), Failed> {
    let program = checked("mov %r0, %r2\nexit\n", conformance::table());
    let exe = KernelEngine::new().load_kernel(&program)?;
    let mut mem = [0u8; 6];
    let mut state = RunState::new();
    let addr = state.add_memory(&mut mem, RegionKind::Input);
    let log = exe
        .verifier_log(&state, [addr, 6, 0, 0, 0])
        .map_err(|e| e.to_string())?;
    // Level 2 shows every state: the packet bound and r2 as the verifier
    // sees them for this run.
    ensure(log.contains("r=6") && log.contains("R2=6"), || {
        format!("log: {log}")
    })
}

fn main() {
    let args = Arguments::from_args();
    let tests = vec![
        privileged(
            "maps::array_update_lookup_iterate",
            array_map_update_lookup_and_iterate,
        ),
        privileged(
            "maps::hash_crud_and_iterate",
            hash_map_create_update_lookup_delete_iterate,
        ),
        privileged(
            "maps::percpu_array_per_cpu_values",
            percpu_array_holds_one_value_per_cpu,
        ),
        privileged(
            "maps::frozen_refuses_writes",
            frozen_map_refuses_syscall_writes,
        ),
        privileged(
            "maps::wrong_key_size_refused",
            wrong_key_size_is_refused_before_the_kernel,
        ),
        privileged(
            "prog::load_and_test_run",
            program_loads_and_test_run_returns_its_value,
        ),
        privileged(
            "prog::test_run_packet_out_and_repeat",
            test_run_returns_the_modified_packet_and_repeats,
        ),
        privileged(
            "prog::rejected_load_shows_verifier_log",
            rejected_load_carries_the_verifier_log,
        ),
        privileged(
            "prog::log_level_two_on_success",
            log_level_two_logs_a_successful_load,
        ),
        privileged("pin::map_and_prog_round_trip", pinned_map_is_the_same_map),
        privileged(
            "pin::outside_bpffs_refused",
            pinning_outside_bpffs_is_refused,
        ),
        privileged("btf::load_and_typed_map", btf_loads_and_types_a_map),
        privileged(
            "btf::bad_magic_shows_log",
            bad_btf_is_rejected_with_the_kernel_log,
        ),
        privileged(
            "link::xdp_generic_in_private_netns",
            xdp_link_attaches_in_a_private_network_namespace,
        ),
        privileged(
            "link::tcx_in_private_netns",
            tcx_link_attaches_in_a_private_network_namespace,
        ),
        privileged("engine::r0_is_64_bits", engine_returns_all_64_bits_of_r0),
        privileged(
            "engine::memory_in_and_back",
            engine_passes_memory_and_copies_it_back,
        ),
        privileged(
            "engine::conformance_helpers_refused",
            engine_refuses_conformance_helpers,
        ),
        privileged(
            "engine::verifier_log_at_load",
            engine_reports_the_verifier_log_at_load,
        ),
        privileged(
            "prog::huge_log_keeps_verdict_and_errno",
            huge_verifier_log_keeps_its_verdict_and_errno,
        ),
        privileged(
            "engine::rejected_variant_traps_unsupported",
            engine_run_that_the_kernel_rejects_traps_unsupported,
        ),
        privileged(
            "engine::test_run_repeat",
            test_run_repeat_times_the_kernel_jit,
        ),
        privileged(
            "engine::variants_per_length",
            engine_runs_the_same_executable_with_different_lengths,
        ),
        privileged(
            "engine::verifier_log_of_a_run",
            engine_verifier_log_shows_the_run_variant,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
