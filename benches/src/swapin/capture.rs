//! `swapin capture`: a live process's private anonymous pages into a
//! corpus file ([`super::content`]).
//!
//! ```text
//!  /proc/PID/maps      the private (p), anonymous (no inode; [heap],
//!                      [stack] or no name), readable mappings
//!  /proc/PID/pagemap   per page: present (bit 63) or swapped (bit 62);
//!                      pages never touched are skipped (they read as zeros
//!                      and would never be swapped)
//!  /proc/PID/mem       pread of each such page
//!  FILE.tmp-PID        the corpus, renamed to FILE only when complete
//! ```
//!
//! Reading another process needs ptrace access to it (root, or its owner
//! with `kernel.yama.ptrace_scope` 0). Errors: no such process, no
//! permission, the process exiting midway; none leaves a file behind.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use zswap_tree::{PAGE_SIZE, Page};

use super::cli::CaptureArgs;
use super::content::Corpus;

/// A mapping of the target process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// The name field of the maps line (`[heap]`, `[stack]` or empty).
    pub name: String,
}

/// Parses `/proc/PID/maps` into the private anonymous readable regions.
pub fn anon_regions(maps: &str) -> Vec<Region> {
    maps.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let range = f.next()?;
            let perms = f.next()?;
            let _offset = f.next()?;
            let _dev = f.next()?;
            let inode = f.next()?;
            let name = f.collect::<Vec<_>>().join(" ");
            let (a, b) = range.split_once('-')?;
            let (start, end) = (
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            );
            let anon = inode == "0" && (name.is_empty() || name == "[heap]" || name == "[stack]");
            let private_readable = perms.starts_with('r') && perms.as_bytes().get(3) == Some(&b'p');
            (anon && private_readable && end > start).then_some(Region { start, end, name })
        })
        .collect()
}

/// Where the pages come from (the process, or a test double).
pub trait Source {
    /// The regions to read.
    fn regions(&mut self) -> Result<Vec<Region>, String>;
    /// Whether the page at `addr` is present or swapped (`true` when the
    /// source cannot tell).
    fn touched(&mut self, addr: u64) -> bool;
    /// Reads the page at `addr`.
    fn read(&mut self, addr: u64, page: &mut Page) -> io::Result<()>;
    /// Whether the process still runs.
    fn alive(&self) -> bool;
    /// What the note of the file says about the source.
    fn describe(&self) -> String;
}

/// A process, through `/proc`.
pub struct Proc {
    pid: u32,
    mem: File,
    pagemap: Option<File>,
}

fn proc_error(pid: u32, what: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("process {pid}: no such process"),
        io::ErrorKind::PermissionDenied => format!(
            "process {pid}: no permission to read its {what} (run as root or as its owner, \
             with kernel.yama.ptrace_scope allowing it)"
        ),
        _ => match e.raw_os_error() {
            // EPERM from ptrace_may_access.
            Some(1) => format!(
                "process {pid}: no permission to read its {what} (run as root or as its owner)"
            ),
            Some(3) => format!("process {pid}: no such process"),
            _ => format!("process {pid}: {what}: {e}"),
        },
    }
}

impl Proc {
    /// Opens `/proc/PID/mem` (and `pagemap`, if readable).
    pub fn open(pid: u32) -> Result<Proc, String> {
        let base = PathBuf::from(format!("/proc/{pid}"));
        if !base.exists() {
            return Err(format!("process {pid}: no such process"));
        }
        let mem = File::open(base.join("mem")).map_err(|e| proc_error(pid, "memory", &e))?;
        let pagemap = File::open(base.join("pagemap")).ok();
        Ok(Proc { pid, mem, pagemap })
    }
}

impl Source for Proc {
    fn regions(&mut self) -> Result<Vec<Region>, String> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid))
            .map_err(|e| proc_error(self.pid, "maps", &e))?;
        Ok(anon_regions(&maps))
    }

    fn touched(&mut self, addr: u64) -> bool {
        let Some(pm) = &self.pagemap else {
            return true;
        };
        let mut e = [0u8; 8];
        match pm.read_exact_at(&mut e, addr / PAGE_SIZE as u64 * 8) {
            Ok(()) => u64::from_le_bytes(e) >> 62 != 0,
            Err(_) => true,
        }
    }

    fn read(&mut self, addr: u64, page: &mut Page) -> io::Result<()> {
        self.mem.read_exact_at(&mut page[..], addr)
    }

    fn alive(&self) -> bool {
        // A zombie has no memory left to read.
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
        })
    }

    fn describe(&self) -> String {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.pid)).unwrap_or_default();
        format!("process {} ({})", self.pid, comm.trim())
    }
}

/// Reads up to `max_pages` touched pages of `src`'s regions.
pub fn collect(
    src: &mut dyn Source,
    max_pages: usize,
    pb: &ProgressBar,
) -> Result<Vec<Box<Page>>, String> {
    let regions = src.regions()?;
    if regions.is_empty() {
        return Err("no private anonymous mappings to read".into());
    }
    let total: u64 = regions
        .iter()
        .map(|r| (r.end - r.start) / PAGE_SIZE as u64)
        .sum();
    pb.set_length(total.min(max_pages as u64));
    let mut pages = Vec::new();
    'regions: for r in &regions {
        let mut addr = r.start;
        while addr < r.end {
            if pages.len() >= max_pages {
                break 'regions;
            }
            if src.touched(addr) {
                let mut p = Box::new([0u8; PAGE_SIZE]);
                match src.read(addr, &mut p) {
                    Ok(()) => {
                        pages.push(p);
                        pb.inc(1);
                    }
                    Err(e) => {
                        if !src.alive() {
                            return Err(format!(
                                "the process exited during the capture (after {} pages): {e}",
                                pages.len()
                            ));
                        }
                        // The mapping went away (munmap): go on with the next.
                        continue 'regions;
                    }
                }
            }
            addr += PAGE_SIZE as u64;
        }
    }
    if !src.alive() {
        return Err(format!(
            "the process exited during the capture (after {} pages)",
            pages.len()
        ));
    }
    if pages.is_empty() {
        return Err("no touched page in the private anonymous mappings".into());
    }
    Ok(pages)
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory, renamed into place; on any error nothing is left behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads the source and writes the corpus; returns (pages, file bytes).
pub fn capture_to(
    src: &mut dyn Source,
    max_pages: usize,
    out: &Path,
    pb: &ProgressBar,
) -> Result<(usize, usize), String> {
    let pages = collect(src, max_pages, pb)?;
    let note = format!(
        "{}, {} private anonymous pages, captured by swapin capture at unix time {}",
        src.describe(),
        pages.len(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    let bytes = Corpus::encode(&note, &pages, 9)?;
    write_atomically(out, &bytes)?;
    Ok((pages.len(), bytes.len()))
}

/// `swapin capture`.
pub fn run(a: &CaptureArgs) -> Result<(), String> {
    let pid = match (a.pid, a.self_) {
        (Some(p), false) => p,
        (None, true) => std::process::id(),
        _ => return Err("capture: give --pid PID or --self".into()),
    };
    let mut src = Proc::open(pid)?;
    let pb = if a.quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} pages {per_sec} eta {eta}")
                .expect("template"),
        );
        pb
    };
    let max_pages = usize::try_from(a.max * (1 << 20) / PAGE_SIZE as u64).unwrap_or(usize::MAX);
    let (n, bytes) = capture_to(&mut src, max_pages, &a.output, &pb)?;
    pb.finish_and_clear();
    println!(
        "{}: {n} pages ({:.1} MiB) of {}, {:.2} MiB compressed",
        a.output.display(),
        n as f64 * PAGE_SIZE as f64 / (1 << 20) as f64,
        src.describe(),
        bytes as f64 / (1 << 20) as f64
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000004000 rw-p 00000000 00:00 0 
7f0000004000-7f0000005000 r--p 00000000 08:01 1234                       /usr/lib/libc.so.6
7f0000005000-7f0000006000 rw-s 00000000 00:05 99                         /dev/zero (deleted)
7f0000006000-7f0000007000 ---p 00000000 00:00 0 
7ffd00000000-7ffd00002000 rw-p 00000000 00:00 0                          [stack]
7ffd00003000-7ffd00004000 r--p 00000000 00:00 0                          [vvar]
";

    #[test]
    fn maps_give_private_anonymous_readable_regions() {
        let r = anon_regions(MAPS);
        let names: Vec<_> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["[heap]", "", "[stack]"]);
        assert_eq!((r[1].start, r[1].end), (0x7f00_0000_0000, 0x7f00_0000_4000));
        assert!(anon_regions("garbage\n\n1-2\n").is_empty());
    }

    /// A process of `pages` pages in one region that dies after `die_after`
    /// reads (never, with `usize::MAX`).
    struct Fake {
        pages: u64,
        reads: usize,
        die_after: usize,
    }

    impl Source for Fake {
        fn regions(&mut self) -> Result<Vec<Region>, String> {
            Ok(vec![Region {
                start: 0x1000,
                end: 0x1000 + self.pages * PAGE_SIZE as u64,
                name: String::new(),
            }])
        }
        fn touched(&mut self, addr: u64) -> bool {
            addr / PAGE_SIZE as u64 % 2 == 1
        }
        fn read(&mut self, addr: u64, page: &mut Page) -> io::Result<()> {
            if self.reads >= self.die_after {
                return Err(io::Error::from_raw_os_error(3));
            }
            self.reads += 1;
            page.fill((addr / PAGE_SIZE as u64) as u8);
            Ok(())
        }
        fn alive(&self) -> bool {
            self.reads < self.die_after
        }
        fn describe(&self) -> String {
            "fake".into()
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("swapin-capture-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn capture_writes_touched_pages_only_and_whole() {
        let d = tmp("ok");
        let out = d.join("c.swpc");
        let mut f = Fake {
            pages: 10,
            reads: 0,
            die_after: usize::MAX,
        };
        let (n, _) = capture_to(&mut f, 3, &out, &ProgressBar::hidden()).unwrap();
        assert_eq!(n, 3, "--max stops it");
        let c = Corpus::load(&out).unwrap();
        // Pages 1, 3, 5 of the region (the odd ones are touched).
        let firsts: Vec<u8> = c.pages.iter().map(|p| p[0]).collect();
        assert_eq!(firsts, [1, 3, 5]);
        assert!(c.note.starts_with("fake, 3 private"));
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_process_exiting_midway_leaves_no_file() {
        let d = tmp("exit");
        let out = d.join("c.swpc");
        let mut f = Fake {
            pages: 10,
            reads: 0,
            die_after: 2,
        };
        let e = capture_to(&mut f, 100, &out, &ProgressBar::hidden()).unwrap_err();
        assert!(
            e.contains("exited during the capture (after 2 pages)"),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_process_and_permission_are_clear_errors() {
        // A child that has exited and been reaped: its pid is free.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        let e = Proc::open(pid).err().unwrap();
        assert!(e.contains("no such process"), "{e}");
        let e = proc_error(
            7,
            "memory",
            &io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(e.contains("no permission"), "{e}");
        let e = proc_error(7, "memory", &io::Error::from_raw_os_error(1));
        assert!(e.contains("no permission"), "{e}");
    }

    #[test]
    fn capture_self_reads_real_pages() {
        let d = tmp("self");
        let out = d.join("self.swpc");
        let mut p = Proc::open(std::process::id()).unwrap();
        let (n, _) = capture_to(&mut p, 64, &out, &ProgressBar::hidden()).unwrap();
        assert!(n > 0);
        assert_eq!(Corpus::load(&out).unwrap().pages.len(), n);
        std::fs::remove_dir_all(&d).unwrap();
        // An unwritable destination is an error, with nothing left.
        let e = capture_to(
            &mut p,
            4,
            Path::new("/proc/swapin-no-such-dir/x"),
            &ProgressBar::hidden(),
        )
        .unwrap_err();
        assert!(e.contains("/proc/swapin-no-such-dir/x"), "{e}");
    }
}
