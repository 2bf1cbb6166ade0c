//! Objects compiled from `bpf/examples` loaded into the kernel through
//! `KernelObject`: every example passes the kernel's verifier, and the
//! programs behave as their sources say on packets built here, with map
//! state read back. Expected verdicts and counts are worked out from the C
//! sources and the packets, not from a run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::{ensure, ensure_eq, privileged};
use libtest_mimic::{Arguments, Failed};
use oxbpf_abi::map_kind::MapKind;
use oxbpf_kernel::prog::xdp_action;
use oxbpf_kernel::{KernelObject, LoadOptions, ObjectLoadError, TestRun, pin, sys};
use oxbpf_object::{MapInit, Object, Pinning};

const EXAMPLES: &str = "../../bpf/examples";

static CLANG: Mutex<()> = Mutex::new(());

/// Compiles `bpf/examples/NAME.c` as the project does and parses it.
fn example(name: &str) -> Result<Object, Failed> {
    let _lock = CLANG.lock().unwrap_or_else(|e| e.into_inner());
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(EXAMPLES)
        .join(format!("{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kernel-{name}.o"));
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .map_err(|e| format!("clang must be installed to build bpf/examples: {e}"))?;
    ensure(status.success(), || {
        format!("clang failed on {}", src.display())
    })?;
    let bytes = std::fs::read(&out).map_err(|e| e.to_string())?;
    Ok(Object::parse(&bytes).map_err(|e| format!("{name}.o: {e}"))?)
}

fn example_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLES);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "c"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// --- packets ------------------------------------------------------------------

const ETH_P_IP: u16 = 0x0800;

fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    p.extend_from_slice(&ethertype.to_be_bytes());
    p
}

/// Ethernet + IPv4 (no options) + an L4 header of `l4_len` bytes whose
/// destination port (bytes 2..4, for TCP and UDP) is `dport`.
fn ipv4(proto: u8, l4_len: usize, dport: u16) -> Vec<u8> {
    let mut p = ethernet(ETH_P_IP);
    let total = (20 + l4_len) as u16;
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let mut l4 = vec![0u8; l4_len];
    l4[0..2].copy_from_slice(&40000u16.to_be_bytes());
    l4[2..4].copy_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&l4);
    p
}

fn udp(dport: u16) -> Vec<u8> {
    ipv4(17, 8, dport)
}

fn tcp(dport: u16) -> Vec<u8> {
    ipv4(6, 20, dport)
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_ne_bytes(b)
}

// --- tests ----------------------------------------------------------------------

fn every_example_passes_the_kernel_verifier() -> Result<(), Failed> {
    let names = example_names();
    ensure(!names.is_empty(), || format!("no examples in {EXAMPLES}"))?;
    let mut failures = Vec::new();
    for name in &names {
        let object = example(name)?;
        ensure(!object.programs.is_empty(), || {
            format!("{name}: no programs")
        })?;
        match KernelObject::load(&object) {
            Ok(loaded) => {
                ensure_eq(
                    loaded.programs().len(),
                    object.programs.len(),
                    &format!("{name}: programs loaded"),
                )?;
                ensure_eq(
                    loaded.maps().count(),
                    object.maps.len(),
                    &format!("{name}: maps created"),
                )?;
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    ensure(failures.is_empty(), || failures.join("\n\n"))
}

fn parse_counts_protocols_and_drops_telnet() -> Result<(), Failed> {
    let object = example("parse")?;
    let loaded = KernelObject::load(&object)?;
    let prog = loaded.program("parse").ok_or("no program parse")?;
    let cases: [(&str, Vec<u8>, u32); 5] = [
        ("udp to 53", udp(53), xdp_action::PASS),
        ("tcp to 80", tcp(80), xdp_action::PASS),
        ("tcp to 23", tcp(23), xdp_action::DROP),
        // An IPv4 header cut short after 10 bytes.
        (
            "truncated ipv4",
            udp(53)[..24].to_vec(),
            xdp_action::ABORTED,
        ),
        // Not IP at all (ARP): passed before any counting.
        (
            "arp",
            [ethernet(0x0806), vec![0; 28]].concat(),
            xdp_action::PASS,
        ),
    ];
    for (what, packet, verdict) in &cases {
        let out = prog.test_run(&mut TestRun::with_data(packet))?;
        ensure_eq(out.retval, *verdict, what)?;
        ensure_eq(&out.data, packet, &format!("{what}: packet unchanged"))?;
    }
    let counts = loaded.map("proto_count").ok_or("no map proto_count")?;
    let count = |proto: u32| -> Result<u64, Failed> {
        let v = counts.lookup(&proto.to_ne_bytes())?.ok_or("no element")?;
        Ok(u64_at(&v, 0))
    };
    // One UDP packet, two TCP packets reached the counter.
    ensure_eq(count(17)?, 1, "udp count")?;
    ensure_eq(count(6)?, 2, "tcp count")?;
    ensure_eq(count(1)?, 0, "icmp count")
}

fn rodata_config_reads_frozen_constants_and_writes_globals() -> Result<(), Failed> {
    let mut object = example("rodata_config")?;
    // Set `drop_udp = 1` in .rodata before loading, as a skeleton would.
    let rodata = object
        .maps
        .iter_mut()
        .find(|m| m.name.ends_with(".rodata"))
        .ok_or("no .rodata map")?;
    ensure(rodata.frozen, || ".rodata is not marked frozen".into())?;
    let var = rodata
        .globals
        .iter()
        .find(|g| g.name == "drop_udp")
        .ok_or("no drop_udp")?
        .clone();
    let MapInit::Data(bytes) = &mut rodata.init else {
        return Err(".rodata has no initial data".into());
    };
    bytes.resize(rodata.value_size as usize, 0);
    bytes[var.offset as usize..var.offset as usize + 4].copy_from_slice(&1u32.to_ne_bytes());

    let loaded = KernelObject::load(&object)?;
    let prog = loaded.program("rodata_config").ok_or("no program")?;
    let packet = udp(53);
    let out = prog.test_run(&mut TestRun::with_data(&packet))?;
    ensure_eq(out.retval, xdp_action::DROP, "udp with drop_udp = 1")?;
    // The IPv4 TOS byte (offset 15) is set to `mark` (0x5a).
    let mut expected = packet.clone();
    expected[15] = 0x5a;
    ensure_eq(out.data, expected, "packet after the run")?;
    let tcp_out = prog.test_run(&mut TestRun::with_data(&tcp(80)))?;
    ensure_eq(tcp_out.retval, xdp_action::PASS, "tcp")?;

    // `seen` (.bss) counted both runs; `last_verdict` (.data) is PASS.
    let global = |section: &str, name: &str| -> Result<(Vec<u8>, u32), Failed> {
        let spec = object
            .maps
            .iter()
            .find(|m| m.name.ends_with(section))
            .ok_or_else(|| format!("no {section} map"))?;
        let var = spec
            .globals
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| format!("no {name}"))?;
        let map = loaded.map(&spec.name).ok_or("map not loaded")?;
        let value = map.lookup(&0u32.to_ne_bytes())?.ok_or("no value 0")?;
        Ok((value, var.offset))
    };
    let (bss, seen) = global(".bss", "seen")?;
    ensure_eq(u64_at(&bss, seen as usize), 2, "seen")?;
    let (data, last) = global(".data", "last_verdict")?;
    let last = u32::from_ne_bytes(data[last as usize..last as usize + 4].try_into().unwrap());
    ensure_eq(last, xdp_action::PASS, "last_verdict")?;
    // The frozen .rodata refuses writes from the syscall side.
    let rodata = loaded.map(
        &object
            .maps
            .iter()
            .find(|m| m.name.ends_with(".rodata"))
            .unwrap()
            .name,
    );
    let rodata = rodata.ok_or(".rodata not loaded")?;
    let zero = vec![0u8; rodata.value_buffer_size()];
    ensure(
        rodata.update(&0u32.to_ne_bytes(), &zero, 0).is_err(),
        || "frozen .rodata accepted an update".into(),
    )
}

fn percpu_count_sums_over_cpus() -> Result<(), Failed> {
    let object = example("percpu_count")?;
    let loaded = KernelObject::load(&object)?;
    let prog = loaded.program("percpu_count").ok_or("no program")?;
    let packet = udp(7);
    let runs = 50u32;
    let out = prog.test_run(&mut TestRun {
        repeat: runs,
        ..TestRun::with_data(&packet)
    })?;
    ensure_eq(out.retval, xdp_action::PASS, "verdict")?;
    let counters = loaded.map("counters").ok_or("no map counters")?;
    ensure_eq(counters.spec().kind, MapKind::PercpuArray, "kind")?;
    let sum = |key: u32| -> Result<u64, Failed> {
        let per_cpu = counters
            .lookup_percpu(&key.to_ne_bytes())?
            .ok_or("no element")?;
        Ok(per_cpu.iter().map(|v| u64_at(v, 0)).sum())
    };
    ensure_eq(sum(0)?, runs as u64, "packets over all CPUs")?;
    ensure_eq(
        sum(1)?,
        runs as u64 * packet.len() as u64,
        "bytes over all CPUs",
    )?;
    ensure_eq(
        counters
            .lookup_percpu(&0u32.to_ne_bytes())?
            .map(|v| v.len()),
        Some(sys::possible_cpus()?),
        "one value per possible CPU",
    )
}

fn pinned_by_name_maps_are_reused_and_checked() -> Result<(), Failed> {
    pin::ensure_bpffs()?;
    let root = PathBuf::from(format!("/sys/fs/bpf/oxbpf-objects-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), Failed> {
        let mut object = example("parse")?;
        let spec = object
            .maps
            .iter_mut()
            .find(|m| m.name == "proto_count")
            .ok_or("no proto_count")?;
        spec.pinning = Pinning::ByName;
        let opts = LoadOptions {
            pin_root: root.clone(),
            ..LoadOptions::default()
        };
        let first = KernelObject::load_with(&object, &opts)?;
        let second = KernelObject::load_with(&object, &opts)?;
        let id = |o: &KernelObject| o.map("proto_count").map(|m| m.id());
        ensure_eq(id(&second), id(&first), "map id of the second load")?;
        ensure(root.join("proto_count").exists(), || "no pin".into())?;
        // A different shape is refused, naming what differs.
        object.maps.iter_mut().for_each(|m| {
            if m.name == "proto_count" {
                m.max_entries = 512;
            }
        });
        match KernelObject::load_with(&object, &opts) {
            Err(ObjectLoadError::PinMismatch {
                what: "max entries",
                expected: 512,
                found: 256,
                ..
            }) => Ok(()),
            other => Err(format!("load over an incompatible pin: {:?}", other.err()).into()),
        }
    })();
    let _ = pin::unpin(&root.join("proto_count"));
    let _ = std::fs::remove_dir(&root);
    result
}

/// Compiles `bpf/tests/NAME.c` (the loader fixtures) and parses it.
fn fixture(name: &str) -> Result<Object, Failed> {
    let _lock = CLANG.lock().unwrap_or_else(|e| e.into_inner());
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bpf/tests")
        .join(format!("{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kernel-fixture-{name}.o"));
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .map_err(|e| format!("clang must be installed: {e}"))?;
    ensure(status.success(), || {
        format!("clang failed on {}", src.display())
    })?;
    let bytes = std::fs::read(&out).map_err(|e| e.to_string())?;
    Ok(Object::parse(&bytes).map_err(|e| format!("{name}.o: {e}"))?)
}

/// A private pin root under bpffs, removed with its pins afterwards.
fn with_pin_root<T>(tag: &str, body: impl FnOnce(&Path) -> Result<T, Failed>) -> Result<T, Failed> {
    pin::ensure_bpffs()?;
    let root = PathBuf::from(format!("/sys/fs/bpf/oxbpf-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let result = body(&root);
    if let Ok(dir) = std::fs::read_dir(&root) {
        for entry in dir.flatten() {
            let _ = pin::unpin(&entry.path());
        }
    }
    let _ = std::fs::remove_dir(&root);
    result
}

fn map_in_map_and_prog_array_slots_are_filled() -> Result<(), Failed> {
    let object = fixture("maps_btf")?;
    with_pin_root("maps-btf", |root| {
        let loaded = KernelObject::load_with(
            &object,
            &LoadOptions {
                pin_root: root.to_path_buf(),
                ..LoadOptions::default()
            },
        )?;
        let map = |name: &str| loaded.map(name).ok_or_else(|| format!("no map {name}"));
        // Syscall lookups of map-in-map and prog-array slots return ids.
        let slot_id = |m: &oxbpf_kernel::KernelMap, k: u32| -> Result<Option<u32>, Failed> {
            Ok(m.lookup(&k.to_ne_bytes())?
                .map(|v| u32::from_ne_bytes(v[..4].try_into().unwrap())))
        };
        let outer = map("outer")?;
        ensure_eq(slot_id(outer, 0)?, Some(map("inner_a")?.id()), "outer[0]")?;
        ensure_eq(slot_id(outer, 1)?, None, "outer[1]")?;
        ensure_eq(slot_id(outer, 2)?, Some(map("inner_b")?.id()), "outer[2]")?;
        let tail = loaded.program("tail_target").ok_or("no tail_target")?;
        ensure_eq(
            slot_id(map("jumps")?, 1)?,
            Some(tail.info()?.id),
            "jumps[1]",
        )?;
        ensure(root.join("flows").exists(), || {
            "flows is not pinned by name".into()
        })?;

        // use_maps counts, records the flow, and tail-calls jumps[1], which
        // returns XDP_DROP.
        let prog = loaded.program("use_maps").ok_or("no use_maps")?;
        let out = prog.test_run(&mut TestRun::with_data(&udp(53)))?;
        ensure_eq(
            out.retval,
            xdp_action::DROP,
            "verdict through the tail call",
        )?;
        let stats = map("stats_array")?
            .lookup(&0u32.to_ne_bytes())?
            .ok_or("no stats[0]")?;
        ensure_eq(u64_at(&stats, 0), 1, "stats_array[0].packets")?;
        let mut flow = Vec::new();
        for w in [1u32, 2] {
            flow.extend_from_slice(&w.to_ne_bytes());
        }
        for h in [3u16, 4] {
            flow.extend_from_slice(&h.to_ne_bytes());
        }
        flow.extend_from_slice(&[6, 0, 0, 0]);
        let one = map("flows")?.lookup(&flow)?.ok_or("flow not recorded")?;
        ensure_eq(u64_at(&one, 0), 1, "flows value")?;
        let per_cpu = map("pcpu_counts")?
            .lookup_percpu(&0u32.to_ne_bytes())?
            .ok_or("no pcpu_counts[0]")?;
        ensure_eq(
            per_cpu.iter().map(|v| u64_at(v, 0)).sum::<u64>(),
            1,
            "pcpu_counts[0]",
        )
    })
}

fn program_types_by_section_load() -> Result<(), Failed> {
    let object = fixture("sections")?;
    // Tracing programs that need a BTF attach target are not supported
    // yet; the unknown section has no program type.
    let loadable: Vec<String> = object
        .programs
        .iter()
        .map(|p| p.name.clone())
        .filter(|n| n != "fentry_prog" && n != "unknown_prog")
        .collect();
    let loaded = KernelObject::load_with(
        &object,
        &LoadOptions {
            programs: Some(loadable.clone()),
            ..LoadOptions::default()
        },
    )?;
    for name in &loadable {
        let p = object.program(name).ok_or("listed program missing")?;
        let info = loaded
            .program(name)
            .ok_or_else(|| format!("{name} not loaded"))?
            .info()?;
        ensure_eq(
            info.prog_type,
            p.program_type.id(),
            &format!("{name}: type"),
        )?;
    }
    match KernelObject::load_with(
        &object,
        &LoadOptions {
            programs: Some(vec!["unknown_prog".into()]),
            ..LoadOptions::default()
        },
    ) {
        Err(ObjectLoadError::UnknownType { program, .. }) => {
            ensure_eq(program.as_str(), "unknown_prog", "program")
        }
        other => Err(format!("unknown section: {:?}", other.err()).into()),
    }
}

fn bpf_to_bpf_calls_run_in_the_kernel() -> Result<(), Failed> {
    let object = fixture("calls")?;
    let loaded = KernelObject::load(&object)?;
    let second = loaded.program("second").ok_or("no second")?;
    let out = second.test_run(&mut TestRun::with_data(&udp(1)))?;
    // rx_queue_index is 0 in a test run: n = 0 ^ 0x55 = 85; leaf(85) = 596,
    // middle(85) = leaf(85) + leaf(86) = 596 + 603; (596 + 1199) & 3 = 3.
    ensure_eq(out.retval, 3, "second")?;
    // bpf_loop(4, add_index, &sum): 0 + 1 + 2 + 3. Callbacks need the BTF
    // func info the loader passes.
    let with_loop = loaded.program("with_loop").ok_or("no with_loop")?;
    let out = with_loop.test_run(&mut TestRun::with_data(&udp(1)))?;
    ensure_eq(out.retval, 6, "with_loop")
}

fn btf_gives_typed_maps_and_source_lines() -> Result<(), Failed> {
    let object = fixture("globals")?;
    let loaded = KernelObject::load_with(
        &object,
        &LoadOptions {
            log_level: 2,
            ..LoadOptions::default()
        },
    )?;
    // Data section maps with a DATASEC carry it as value type (string
    // literal sections have none).
    let mut typed = 0;
    for spec in object.maps.iter() {
        let info = loaded.map(&spec.name).ok_or("map not loaded")?.info()?;
        ensure_eq(
            info.btf_value_type_id,
            spec.value_type.unwrap_or(0),
            &format!("{}: value type", spec.name),
        )?;
        if spec.value_type.is_some() {
            ensure(info.btf_id != 0, || format!("{}: no BTF", spec.name))?;
            typed += 1;
        }
    }
    // .data, .bss, .rodata, .data.greet, .rodata.table.
    ensure(typed >= 5, || format!("only {typed} typed data maps"))?;
    // With line info the verifier log quotes the C source.
    let prog = loaded.program("globals_prog").ok_or("no globals_prog")?;
    ensure(prog.log().contains("; "), || {
        format!("log quotes no source line:\n{}", prog.log())
    })?;
    ensure(prog.info()?.btf_id != 0, || "program has no BTF".into())
}

fn main() {
    let args = Arguments::from_args();
    let tests = vec![
        privileged(
            "objects::every_example_loads",
            every_example_passes_the_kernel_verifier,
        ),
        privileged("objects::parse", parse_counts_protocols_and_drops_telnet),
        privileged(
            "objects::rodata_config",
            rodata_config_reads_frozen_constants_and_writes_globals,
        ),
        privileged("objects::percpu_count", percpu_count_sums_over_cpus),
        privileged(
            "objects::pinning_by_name",
            pinned_by_name_maps_are_reused_and_checked,
        ),
        privileged(
            "fixtures::map_in_map_and_prog_array",
            map_in_map_and_prog_array_slots_are_filled,
        ),
        privileged(
            "fixtures::program_types_by_section",
            program_types_by_section_load,
        ),
        privileged(
            "fixtures::bpf_to_bpf_calls",
            bpf_to_bpf_calls_run_in_the_kernel,
        ),
        privileged(
            "fixtures::btf_typed_maps_and_lines",
            btf_gives_typed_maps_and_source_lines,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
