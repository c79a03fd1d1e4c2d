//! What the loader tells us: `hvm_start_info` (command line, memory map,
//! modules), copied out of loader memory into a fixed-size structure before
//! the heap exists. Every address comes from outside the guest, so each is
//! checked to lie inside the identity mapping before it is read.

use oxclick_unikernel::abi::start_info::{
    HvmMemmapEntry, HvmModlistEntry, HvmStartInfo, START_INFO_V0_SIZE, START_MAGIC,
};
use oxclick_unikernel::memmap::Region;

/// The boot page tables map the low 4 GiB.
pub const IDENTITY_MAPPED: u64 = 4 << 30;
const MAX_MEMMAP: usize = 64;
const MAX_CMDLINE: usize = 1024;
const MAX_MODULES: usize = 4;
const MAX_RESERVED: usize = 3 + 2 * MAX_MODULES;

pub struct BootInfo {
    pub start_info: HvmStartInfo,
    memmap: [HvmMemmapEntry; MAX_MEMMAP],
    memmap_len: usize,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    reserved: [Region; MAX_RESERVED],
    reserved_len: usize,
}

/// Whether `[addr, addr + len)` is non-null and identity mapped.
fn readable(addr: u64, len: u64) -> bool {
    addr != 0 && addr.checked_add(len).is_some_and(|end| end <= IDENTITY_MAPPED)
}

impl BootInfo {
    /// Read the start info at physical address `paddr`.
    ///
    /// # Safety
    /// Call once at boot, while the loader's memory is still intact.
    pub unsafe fn read(paddr: u64) -> Result<BootInfo, &'static str> {
        if !readable(paddr, START_INFO_V0_SIZE as u64) {
            return Err("start info address outside the identity map");
        }
        let mut info = HvmStartInfo::default();
        // SAFETY: checked readable; the v0 prefix always exists.
        unsafe {
            core::ptr::copy_nonoverlapping(paddr as *const u8, (&raw mut info).cast::<u8>(), START_INFO_V0_SIZE);
        }
        if info.magic != START_MAGIC {
            return Err("bad hvm_start_info magic");
        }
        let size = if info.version >= 1 { core::mem::size_of::<HvmStartInfo>() } else { START_INFO_V0_SIZE };
        if info.version >= 1 {
            if !readable(paddr, size as u64) {
                return Err("start info v1 outside the identity map");
            }
            // SAFETY: checked readable.
            info = unsafe { core::ptr::read_unaligned(paddr as *const HvmStartInfo) };
        }
        let mut boot = BootInfo {
            start_info: info,
            memmap: [HvmMemmapEntry::default(); MAX_MEMMAP],
            memmap_len: 0,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            reserved: [Region::default(); MAX_RESERVED],
            reserved_len: 0,
        };
        boot.reserve(paddr, size as u64);

        if info.version >= 1 && info.memmap_entries > 0 {
            let n = (info.memmap_entries as usize).min(MAX_MEMMAP);
            let bytes = (n * core::mem::size_of::<HvmMemmapEntry>()) as u64;
            if readable(info.memmap_paddr, bytes) {
                for i in 0..n {
                    // SAFETY: within the checked range.
                    boot.memmap[i] =
                        unsafe { core::ptr::read_unaligned((info.memmap_paddr as *const HvmMemmapEntry).add(i)) };
                }
                boot.memmap_len = n;
                boot.reserve(info.memmap_paddr, bytes);
            }
        }

        if readable(info.cmdline_paddr, 1) {
            let max = (IDENTITY_MAPPED - info.cmdline_paddr).min(MAX_CMDLINE as u64 - 1) as usize;
            while boot.cmdline_len < max {
                // SAFETY: cmdline_paddr + cmdline_len < IDENTITY_MAPPED.
                let b = unsafe { core::ptr::read_volatile((info.cmdline_paddr as *const u8).add(boot.cmdline_len)) };
                if b == 0 {
                    break;
                }
                boot.cmdline[boot.cmdline_len] = b;
                boot.cmdline_len += 1;
            }
            boot.reserve(info.cmdline_paddr, boot.cmdline_len as u64 + 1);
        }

        // Modules stay where the loader put them: keep the heap off them.
        let entry_size = core::mem::size_of::<HvmModlistEntry>() as u64;
        let modules = (info.nr_modules as usize).min(MAX_MODULES);
        if modules > 0 && readable(info.modlist_paddr, modules as u64 * entry_size) {
            boot.reserve(info.modlist_paddr, modules as u64 * entry_size);
            for i in 0..modules {
                // SAFETY: within the checked range.
                let m = unsafe { core::ptr::read_unaligned((info.modlist_paddr as *const HvmModlistEntry).add(i)) };
                boot.reserve(m.paddr, m.size);
            }
        }
        Ok(boot)
    }

    fn reserve(&mut self, start: u64, len: u64) {
        if self.reserved_len < MAX_RESERVED && len > 0 {
            self.reserved[self.reserved_len] = Region::new(start, start.saturating_add(len));
            self.reserved_len += 1;
        }
    }

    pub fn memmap(&self) -> &[HvmMemmapEntry] {
        &self.memmap[..self.memmap_len]
    }

    /// Loader memory the heap must not overwrite.
    pub fn reserved(&self) -> &[Region] {
        &self.reserved[..self.reserved_len]
    }

    /// The command line (empty if it is not UTF-8).
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// The value of `key=value` on the command line.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.cmdline().split_ascii_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    }

    /// Whether the command line holds `word` as a whole word.
    pub fn has_flag(&self, word: &str) -> bool {
        self.cmdline().split_ascii_whitespace().any(|w| w == word)
    }
}
