//! `#[repr(C)]` mirrors of the parts of `union bpf_attr` and of the
//! `bpf_*_info` structures that oxbpf uses, from the uapi `linux/bpf.h`.
//!
//! Each command gets its own struct holding a prefix of the union member it
//! uses. That is enough because the kernel copies `size` bytes of the
//! attribute and zero-fills the rest (`bpf_check_uarg_tail_zero` in
//! `kernel/bpf/syscall.c` only refuses *non-zero* bytes past the fields it
//! knows), so a shorter struct means "the remaining fields are zero", and
//! fields newer than a running kernel are accepted as long as they stay
//! zero. The same rule governs the `info` structures of
//! `BPF_OBJ_GET_INFO_BY_FD`, which the kernel fills up to `info_len` bytes.
//!
//! The offsets are checked by the tests at the bottom against numbers
//! printed by a C program with `offsetof` over `/usr/include/linux/bpf.h`
//! (libbpf-dev); `log_true_size` and `btf_log_true_size` are from Linux 6.4,
//! newer than that header, and follow the field before them.
//!
//! Pointers travel as `u64` (`__aligned_u64`), as the uapi passes them.

/// Length of object names (`BPF_OBJ_NAME_LEN`), including the NUL.
pub const OBJ_NAME_LEN: usize = 16;

/// `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; OBJ_NAME_LEN],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
}

/// `BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM` and `BPF_MAP_GET_NEXT_KEY`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapElemAttr {
    pub map_fd: u32,
    pub _pad: u32,
    pub key: u64,
    /// `value`, or `next_key` for `BPF_MAP_GET_NEXT_KEY` (a union in the
    /// uapi).
    pub value: u64,
    pub flags: u64,
}

/// `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` / `attach_btf_obj_fd` (a union).
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    /// Output (Linux 6.4+): the size the whole log needs, NUL included.
    pub log_true_size: u32,
}

/// `BPF_OBJ_PIN` and `BPF_OBJ_GET`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ObjAttr {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
}

/// `BPF_PROG_TEST_RUN` (the `test` member).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD` (the `info` member).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

/// `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    /// Output (Linux 6.4+): the size the whole log needs.
    pub btf_log_true_size: u32,
}

/// `BPF_LINK_CREATE` (the `link_create` member), up to `flags`: XDP links
/// use nothing after it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkCreateAttr {
    pub prog_fd: u32,
    /// `target_fd` / `target_ifindex` (a union).
    pub target: u32,
    pub attach_type: u32,
    pub flags: u32,
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpfMapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub _pad: u32,
    pub map_extra: u64,
}

/// `struct bpf_prog_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpfProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub gpl_compatible: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad: u32,
}

/// `struct bpf_link_info`: the common head and, for XDP links, the
/// interface index (the first word of the per-type union).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpfLinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad: u32,
    /// The per-link-type union; for `BPF_LINK_TYPE_XDP` word 0 is `ifindex`.
    pub union: [u32; 8],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    // Expected numbers: `offsetof`/`sizeof` printed by gcc over
    // /usr/include/linux/bpf.h (see the module docs).

    #[test]
    fn map_create_matches_uapi() {
        assert_eq!(offset_of!(MapCreateAttr, map_flags), 16);
        assert_eq!(offset_of!(MapCreateAttr, numa_node), 24);
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, map_ifindex), 44);
        assert_eq!(offset_of!(MapCreateAttr, btf_fd), 48);
        assert_eq!(offset_of!(MapCreateAttr, btf_vmlinux_value_type_id), 60);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(size_of::<MapCreateAttr>(), 72);
    }

    #[test]
    fn map_elem_matches_uapi() {
        assert_eq!(offset_of!(MapElemAttr, key), 8);
        assert_eq!(offset_of!(MapElemAttr, value), 16);
        assert_eq!(offset_of!(MapElemAttr, flags), 24);
        assert_eq!(size_of::<MapElemAttr>(), 32);
    }

    #[test]
    fn prog_load_matches_uapi() {
        assert_eq!(offset_of!(ProgLoadAttr, insns), 8);
        assert_eq!(offset_of!(ProgLoadAttr, license), 16);
        assert_eq!(offset_of!(ProgLoadAttr, log_level), 24);
        assert_eq!(offset_of!(ProgLoadAttr, log_size), 28);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, kern_version), 40);
        assert_eq!(offset_of!(ProgLoadAttr, prog_flags), 44);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, prog_ifindex), 64);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(offset_of!(ProgLoadAttr, prog_btf_fd), 72);
        assert_eq!(offset_of!(ProgLoadAttr, func_info_rec_size), 76);
        assert_eq!(offset_of!(ProgLoadAttr, func_info), 80);
        assert_eq!(offset_of!(ProgLoadAttr, func_info_cnt), 88);
        assert_eq!(offset_of!(ProgLoadAttr, line_info_rec_size), 92);
        assert_eq!(offset_of!(ProgLoadAttr, line_info), 96);
        assert_eq!(offset_of!(ProgLoadAttr, line_info_cnt), 104);
        assert_eq!(offset_of!(ProgLoadAttr, attach_btf_id), 108);
        assert_eq!(offset_of!(ProgLoadAttr, attach_prog_fd), 112);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_cnt), 116);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array), 120);
        assert_eq!(offset_of!(ProgLoadAttr, core_relos), 128);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_rec_size), 136);
        assert_eq!(offset_of!(ProgLoadAttr, log_true_size), 140);
        assert_eq!(size_of::<ProgLoadAttr>(), 144);
    }

    #[test]
    fn obj_and_info_match_uapi() {
        assert_eq!(offset_of!(ObjAttr, bpf_fd), 8);
        assert_eq!(offset_of!(ObjAttr, file_flags), 12);
        assert_eq!(offset_of!(InfoAttr, info_len), 4);
        assert_eq!(offset_of!(InfoAttr, info), 8);
    }

    #[test]
    fn test_run_matches_uapi() {
        assert_eq!(offset_of!(TestRunAttr, retval), 4);
        assert_eq!(offset_of!(TestRunAttr, data_size_in), 8);
        assert_eq!(offset_of!(TestRunAttr, data_size_out), 12);
        assert_eq!(offset_of!(TestRunAttr, data_in), 16);
        assert_eq!(offset_of!(TestRunAttr, data_out), 24);
        assert_eq!(offset_of!(TestRunAttr, repeat), 32);
        assert_eq!(offset_of!(TestRunAttr, duration), 36);
        assert_eq!(offset_of!(TestRunAttr, ctx_size_in), 40);
        assert_eq!(offset_of!(TestRunAttr, ctx_size_out), 44);
        assert_eq!(offset_of!(TestRunAttr, ctx_in), 48);
        assert_eq!(offset_of!(TestRunAttr, ctx_out), 56);
        assert_eq!(offset_of!(TestRunAttr, flags), 64);
        assert_eq!(offset_of!(TestRunAttr, cpu), 68);
        assert_eq!(offset_of!(TestRunAttr, batch_size), 72);
    }

    #[test]
    fn btf_load_and_link_create_match_uapi() {
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_buf), 8);
        assert_eq!(offset_of!(BtfLoadAttr, btf_size), 16);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_size), 20);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_level), 24);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_true_size), 28);
        assert_eq!(offset_of!(LinkCreateAttr, target), 4);
        assert_eq!(offset_of!(LinkCreateAttr, attach_type), 8);
        assert_eq!(offset_of!(LinkCreateAttr, flags), 12);
    }

    #[test]
    fn info_structs_match_uapi() {
        assert_eq!(size_of::<BpfMapInfo>(), 88);
        assert_eq!(offset_of!(BpfMapInfo, name), 24);
        assert_eq!(offset_of!(BpfMapInfo, ifindex), 40);
        assert_eq!(offset_of!(BpfMapInfo, netns_dev), 48);
        assert_eq!(offset_of!(BpfMapInfo, btf_id), 64);
        assert_eq!(offset_of!(BpfMapInfo, btf_value_type_id), 72);
        assert_eq!(offset_of!(BpfMapInfo, map_extra), 80);

        assert_eq!(size_of::<BpfProgInfo>(), 232);
        assert_eq!(offset_of!(BpfProgInfo, tag), 8);
        assert_eq!(offset_of!(BpfProgInfo, jited_prog_len), 16);
        assert_eq!(offset_of!(BpfProgInfo, jited_prog_insns), 24);
        assert_eq!(offset_of!(BpfProgInfo, load_time), 40);
        assert_eq!(offset_of!(BpfProgInfo, nr_map_ids), 52);
        assert_eq!(offset_of!(BpfProgInfo, map_ids), 56);
        assert_eq!(offset_of!(BpfProgInfo, name), 64);
        assert_eq!(offset_of!(BpfProgInfo, ifindex), 80);
        assert_eq!(offset_of!(BpfProgInfo, netns_dev), 88);
        assert_eq!(offset_of!(BpfProgInfo, netns_ino), 96);
        assert_eq!(offset_of!(BpfProgInfo, btf_id), 128);
        assert_eq!(offset_of!(BpfProgInfo, run_time_ns), 192);
        assert_eq!(offset_of!(BpfProgInfo, run_cnt), 200);
        assert_eq!(offset_of!(BpfProgInfo, verified_insns), 216);

        assert_eq!(size_of::<BpfLinkInfo>(), 48);
        assert_eq!(offset_of!(BpfLinkInfo, prog_id), 8);
        assert_eq!(offset_of!(BpfLinkInfo, union), 16);
    }
}
