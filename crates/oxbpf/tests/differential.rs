//! The differential harness: the same object, program, input packets and
//! initial map state run on interp, jit and the Linux kernel
//! (`BPF_PROG_TEST_RUN`), comparing the return value, the output packet
//! and the final contents of every map.
//!
//! - Every C example in `bpf/examples/` runs through it on a common set of
//!   packets (IPv4 UDP/TCP/ICMP, telnet, TTL 1, IPv6, VLAN, ARP, broadcast,
//!   bare Ethernet).
//! - Random programs from the generator shared with the soundness test
//!   (`tests/common/progs.rs`, ending with a value computed from what they
//!   read) that both our verifier and the kernel's accept run on boundary
//!   packets with a filled map: at least 2,000 in every run
//!   (`OXBPF_DIFFERENTIAL_PROGRAMS` for more).
//!
//! The thread is pinned to CPU 0 and our engines run as CPU 0, so per-CPU
//! maps are compared on that CPU's slot. Nothing is excluded globally; the
//! examples use no helper with legitimately different results (time,
//! random numbers), and a test that did would declare the field here.
//!
//! Needs root and BPF (ignored with the reason otherwise; a failure under
//! `OXBPF_REQUIRE_PRIVILEGED=1`).

mod common;
#[path = "common/progs.rs"]
mod progs;

use std::path::Path;

use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf::{
    EngineKind, Loader, MapImage, MapReloc, ObjectImage, ProgramImage, ProgramKind, RunOptions,
};
use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::Insn;
use oxbpf_kernel::{
    KernelMap, KernelObject, KernelProgram, LoadOptions, MapSpec as KSpec, ProgramSpec, TestRun,
};
use oxbpf_testkit::{Requirement, privileged_trial};
use oxbpf_verifier::{Input, MapInfo, Options, verify};
use progs::{Ending, Rng, VALUE_SIZE, program_ending};

/// Maps whose slots hold programs or maps: their contents are handles
/// (oxbpf's program ids, the kernel's prog and map ids) that differ by
/// design, so they are left out of the comparison; what they select shows
/// in the return values and the other maps.
fn holds_references(kind: MapKind) -> bool {
    matches!(
        kind,
        MapKind::ProgArray | MapKind::ArrayOfMaps | MapKind::HashOfMaps
    )
}

/// Examples our verifier does not accept yet (`bpf_spin_lock`): they run
/// unverified (checked mode) on our engines; the kernel verifies them.
const UNVERIFIED: &[&str] = &["spin_lock.o"];

fn loader_for(path: &Path) -> Loader {
    let unverified = path
        .file_name()
        .is_some_and(|n| UNVERIFIED.iter().any(|u| n == *u));
    Loader::new().verify(!unverified)
}

/// What one engine produced for one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    ret: u32,
    packet: Vec<u8>,
}

/// Map contents by map index: sorted (key, value) with per-CPU values
/// reduced to CPU 0's slot.
type MapState = Vec<Vec<(Vec<u8>, Vec<u8>)>>;

fn pin_to_cpu0() -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t with one bit set, for this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// The common packet set for the examples.
fn packets() -> Vec<(&'static str, Vec<u8>)> {
    use common::{ipv4_tcp, ipv4_udp};
    let mut v = vec![
        ("udp4", ipv4_udp(b"hello, differential", 1234, 53)),
        ("udp4-empty", ipv4_udp(b"", 7, 9)),
        ("tcp4-http", ipv4_tcp(b"GET / HTTP/1.0\r\n\r\n", 40000, 80)),
        ("tcp4-telnet", ipv4_tcp(b"", 40001, 23)),
    ];
    let mut ttl1 = ipv4_udp(b"ttl", 1, 2);
    ttl1[22] = 1;
    v.push(("udp4-ttl1", ttl1));
    let mut icmp = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut icmp, b"ping")
        .expect("icmp packet");
    v.push(("icmp4", icmp));
    let mut v6 = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(5000, 53)
        .write(&mut v6, b"six")
        .expect("ipv6 packet");
    v.push(("udp6", v6));
    let mut vlan = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .single_vlan(42.try_into().expect("vlan id"))
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1, 2)
        .write(&mut vlan, b"vlan")
        .expect("vlan packet");
    v.push(("vlan-udp4", vlan));
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ]);
    v.push(("arp", arp));
    let mut bcast = ipv4_udp(b"broadcast", 68, 67);
    bcast[..6].copy_from_slice(&[0xff; 6]);
    v.push(("udp4-broadcast", bcast));
    v.push((
        "ethernet-only",
        vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5],
    ));
    v
}

fn reduce_percpu(kind: MapKind, value_size: u32, v: &[u8]) -> Vec<u8> {
    if kind.is_percpu() {
        v[..(value_size as usize).min(v.len())].to_vec()
    } else {
        v.to_vec()
    }
}

/// Runs `prog` of the object at `path` on our engine over `packets`.
fn ours(
    path: &Path,
    prog: &str,
    engine: EngineKind,
    packets: &[(&str, Vec<u8>)],
) -> Result<(Vec<Outcome>, MapState), String> {
    let obj = loader_for(path)
        .load_file(path)
        .map_err(|e| e.to_string())?;
    let p = obj.program(prog).map_err(|e| e.to_string())?;
    let kind = p.kind();
    let runner = p.load(engine).map_err(|e| e.to_string())?;
    let opts = RunOptions {
        cpu: 0,
        ..RunOptions::default()
    };
    let mut out = Vec::new();
    for (_, pkt) in packets {
        let o = match kind {
            ProgramKind::Xdp => runner.run_xdp_with(pkt, &opts).map(|o| Outcome {
                ret: o.ret,
                packet: o.packet,
            }),
            _ => runner.run_skb(pkt, &opts).map(|o| Outcome {
                ret: o.ret,
                packet: o.packet,
            }),
        }
        .map_err(|e| e.to_string())?;
        out.push(o);
    }
    let mut maps = Vec::new();
    for (_, m) in obj.maps() {
        let spec = m.spec();
        if holds_references(spec.kind) {
            continue;
        }
        let mut entries: Vec<_> = m
            .entries()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(k, v)| (k, reduce_percpu(spec.kind, spec.value_size, &v)))
            .collect();
        entries.sort();
        maps.push(entries);
    }
    Ok((out, maps))
}

/// The same on the kernel.
fn kernel(
    path: &Path,
    prog: &str,
    packets: &[(&str, Vec<u8>)],
) -> Result<(Vec<Outcome>, MapState), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let parsed = oxbpf_object::Object::parse(&bytes).map_err(|e| e.to_string())?;
    let k = KernelObject::load_with(
        &parsed,
        &LoadOptions {
            // Tail calls need their targets loaded too.
            programs: if parsed.maps.iter().any(|m| m.kind == MapKind::ProgArray) {
                None
            } else {
                Some(vec![prog.to_string()])
            },
            ..LoadOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let p = k.program(prog).ok_or("program not loaded")?;
    let mut out = Vec::new();
    for (_, pkt) in packets {
        let mut run = TestRun::with_data(pkt);
        run.extra_out = 512;
        let r = p.test_run(&mut run).map_err(|e| e.to_string())?;
        out.push(Outcome {
            ret: r.retval,
            packet: r.data,
        });
    }
    let mut maps = Vec::new();
    for (_, m) in k.maps() {
        let spec = m.spec().clone();
        if holds_references(spec.kind) {
            continue;
        }
        let mut entries: Vec<_> = m
            .entries()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(k, v)| (k, reduce_percpu(spec.kind, spec.value_size, &v)))
            .collect();
        entries.sort();
        maps.push(entries);
    }
    Ok((out, maps))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares every engine with the kernel; the error names the first
/// difference.
fn compare(
    what: &str,
    names: &[&str],
    kernel: &(Vec<Outcome>, MapState),
    engines: &[(EngineKind, (Vec<Outcome>, MapState))],
) -> Result<(), String> {
    for (engine, (outs, maps)) in engines {
        for (i, (o, k)) in outs.iter().zip(&kernel.0).enumerate() {
            if o.ret != k.ret {
                return Err(format!(
                    "{what}, packet {}: {} returned {}, the kernel {}",
                    names[i],
                    engine.name(),
                    o.ret,
                    k.ret
                ));
            }
            if o.packet != k.packet {
                return Err(format!(
                    "{what}, packet {}: output packets differ\n  {}: {}\n  kernel: {}",
                    names[i],
                    engine.name(),
                    hex(&o.packet),
                    hex(&k.packet)
                ));
            }
        }
        if maps != &kernel.1 {
            return Err(format!(
                "{what}: final maps differ\n  {}: {maps:?}\n  kernel: {:?}",
                engine.name(),
                kernel.1
            ));
        }
    }
    Ok(())
}

fn example_trial(path: std::path::PathBuf) -> Result<(), Failed> {
    pin_to_cpu0()?;
    let obj = loader_for(&path)
        .load_file(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let names: Vec<String> = obj.program_names().iter().map(|s| s.to_string()).collect();
    let pk = packets();
    let labels: Vec<&str> = pk.iter().map(|(n, _)| *n).collect();
    for prog in &names {
        let k = kernel(&path, prog, &pk)?;
        let mut engines = Vec::new();
        for e in [EngineKind::Interp, EngineKind::Jit] {
            engines.push((e, ours(&path, prog, e, &pk)?));
        }
        compare(&format!("{} {prog}", path.display()), &labels, &k, &engines)?;
    }
    Ok(())
}

fn random_programs() -> Result<(), Failed> {
    pin_to_cpu0()?;
    let target: u64 = std::env::var("OXBPF_DIFFERENTIAL_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let mut rng = Rng(0xd1ff_e4e7);
    let info = MapInfo {
        name: "m".into(),
        kind: MapKind::Hash,
        key_size: 4,
        value_size: VALUE_SIZE,
        max_entries: 64,
        readonly: false,
        inner: None,
    };
    let kmap_spec = KSpec::new("m", MapKind::Hash, 4, VALUE_SIZE, 64);
    let (mut compared, mut generated, mut kernel_refused) = (0u64, 0u64, 0u64);
    let mut runs = 0u64;
    while compared < target {
        generated += 1;
        if generated > target * 3 {
            return Err(format!(
                "only {compared} of {generated} generated programs were comparable"
            )
            .into());
        }
        let (text, shape) = program_ending(&mut rng, false, Ending::Computed);
        let insns = oxbpf_isa::asm::assemble(&text).map_err(|e| format!("{e}\n{text}"))?;
        let input = Input {
            insns: &insns,
            program_type: ProgramType::Xdp,
            maps: std::slice::from_ref(&info),
            lines: None,
            options: Options::default(),
        };
        if verify(&input).is_err() {
            continue;
        }
        // The kernel: a fresh map, filled, and the program referring to it.
        let kmap = KernelMap::create(&kmap_spec).map_err(|e| e.to_string())?;
        for key in 0u32..4 {
            kmap.update(
                &key.to_ne_bytes(),
                &[0x11 * (key as u8 + 1); VALUE_SIZE as usize],
                0,
            )
            .map_err(|e| e.to_string())?;
        }
        let raw = oxbpf_kernel::object::resolve_map_refs(&insns, &[kmap.raw_fd()])
            .map_err(|(i, m)| format!("insn {i}: map {m}"))?;
        let kprog = match KernelProgram::load(&ProgramSpec::xdp("diff", &raw)) {
            Ok(p) => p,
            Err(e) => {
                kernel_refused += 1;
                if kernel_refused > 20 && kernel_refused * 10 > compared {
                    return Err(format!(
                        "the kernel refuses many programs our verifier accepts, e.g.: {e}\n{text}"
                    )
                    .into());
                }
                continue;
            }
        };
        // Ours: interp and jit, each with its own filled map.
        let mut lengths: Vec<u32> = vec![14, 64, 300];
        for &l in &shape.lengths {
            lengths.extend([l.saturating_sub(1).max(14), l.max(14), l + 1]);
        }
        let packets: Vec<(&str, Vec<u8>)> = lengths
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let fill = if i % 2 == 0 { 0x00 } else { 0xa5 };
                let p: Vec<u8> = (0..len.max(14))
                    .map(|j| (j as u8).wrapping_mul(31) ^ fill)
                    .collect();
                ("len", p)
            })
            .collect();
        let mut k_outs = Vec::new();
        for (_, p) in &packets {
            let mut run = TestRun::with_data(p);
            run.extra_out = 64;
            let r = kprog
                .test_run(&mut run)
                .map_err(|e| format!("test run of a {}-byte packet: {e}\n{text}", p.len()))?;
            k_outs.push(Outcome {
                ret: r.retval,
                packet: r.data,
            });
        }
        let mut k_map: Vec<_> = kmap.entries().map_err(|e| e.to_string())?;
        k_map.sort();
        let kernel_side = (k_outs, vec![k_map]);
        let mut engines = Vec::new();
        for engine in [EngineKind::Interp, EngineKind::Jit] {
            let relocs = insns
                .iter()
                .enumerate()
                .filter(|(_, i)| matches!(i, Insn::Lddw { .. }))
                .map(|(insn, _)| MapReloc::Map { insn, map: 0 })
                .collect();
            let image = ObjectImage {
                programs: vec![ProgramImage {
                    name: "diff".into(),
                    section: "xdp".into(),
                    insns: insns.clone(),
                    relocs,
                    functions: vec![],
                }],
                maps: vec![MapImage {
                    spec: oxbpf_maps::MapSpec::new(MapKind::Hash, 4, VALUE_SIZE, 64).with_name("m"),
                    init: None,
                    readonly: false,
                }],
            };
            let obj = Loader::new()
                .ncpus(1)
                .load_image(image)
                .map_err(|e| e.to_string())?;
            let map = obj.map("m").map_err(|e| e.to_string())?;
            for key in 0u32..4 {
                map.update(
                    &key.to_ne_bytes(),
                    &[0x11 * (key as u8 + 1); VALUE_SIZE as usize],
                    0,
                )
                .map_err(|e| e.to_string())?;
            }
            let runner = obj
                .program("diff")
                .and_then(|p| p.load(engine))
                .map_err(|e| e.to_string())?;
            let mut outs = Vec::new();
            for (_, p) in &packets {
                let o = runner
                    .run_xdp(p)
                    .map_err(|e| format!("{}: {e}\n{text}", engine.name()))?;
                outs.push(Outcome {
                    ret: o.ret,
                    packet: o.packet,
                });
                runs += 1;
            }
            let mut m: Vec<_> = map.entries().map_err(|e| e.to_string())?;
            m.sort();
            engines.push((engine, (outs, vec![m])));
        }
        let labels: Vec<&str> = packets.iter().map(|(n, _)| *n).collect();
        compare(
            &format!("random program {generated}"),
            &labels,
            &kernel_side,
            &engines,
        )
        .map_err(|e| format!("{e}\nprogram:\n{text}"))?;
        compared += 1;
    }
    println!(
        "differential: {compared} random programs compared on interp, jit and kernel ({runs} runs of ours), \
         0 divergences; {kernel_refused} accepted by oxbpf but refused by the kernel; {generated} generated"
    );
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let req = [Requirement::Root, Requirement::Bpf];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "c"));
    files.sort();
    let mut tests: Vec<Trial> = Vec::new();
    for f in files {
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        tests.push(privileged_trial(
            format!("example::{name}"),
            &req,
            move || {
                let obj = common::example(&name);
                example_trial(obj)
            },
        ));
    }
    tests.push(privileged_trial(
        "random_programs_2000",
        &req,
        random_programs,
    ));
    libtest_mimic::run(&args, tests).exit();
}
