//! Folder downloads (`--archive`): a folder as one tar, tar.gz or zip stream
//! (`?download=tar`, `?download=tar.gz`, `?download=zip`), written straight into the response — no temporary
//! file, and memory bounded whatever the folder's size: one folder's entries at a time, a
//! copy buffer, the compressor's window, and the identities of the folders already written.
//!
//! What goes in follows browsing exactly ([`listing::entries`]): hidden names only with
//! `--hidden`, links followed only while they stay under the root (unless
//! `--follow-symlinks`), FIFOs, sockets and devices left out. A folder reached twice (a link
//! to an ancestor) goes in once. A file that cannot be opened is left out, as browsing would
//! answer 403; one that shrinks while it is read is padded with zeros to the size its header
//! announced, and one that grows is cut there, so the archive stays well-formed.
//!
//! A plain tar stores file bytes as they are, so its thread splices them from the file into
//! the pipe (splice(2): no copy through user space), writing only the 512-byte headers and
//! the padding; `engine/send.rs` splices the pipe into the socket. A tar.gz goes through the
//! compressor, so through user space.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::jail::Jail;
use crate::listing::{self, Sort};
use crate::share::zip;

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A plain tar (ustar with GNU long names).
    Tar,
    /// A gzip-compressed tar.
    TarGz,
    /// A zip of stored entries (`zip.rs`).
    Zip,
}

impl Format {
    /// The format a query asks for (`download=tar` or `download=tar.gz`), if any.
    pub(crate) fn from_query(query: Option<&str>) -> Option<Format> {
        query?.split('&').find_map(|pair| match pair {
            "download=tar" => Some(Format::Tar),
            "download=tar.gz" | "download=tgz" => Some(Format::TarGz),
            "download=zip" => Some(Format::Zip),
            _ => None,
        })
    }

    /// The response's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::TarGz => "application/gzip",
            Format::Zip => "application/zip",
        }
    }

    /// The file name extension, for `Content-Disposition`.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }
}

/// The name of the archive of the folder at URL path `url_path` (decoded): the folder's
/// own name, or `root` for the top; never empty, never with a `/`.
pub(crate) fn base_name(url_path: &str) -> String {
    let last = url_path
        .split('/')
        .rev()
        .find(|p| !p.is_empty())
        .unwrap_or("root");
    last.chars()
        .map(|c| {
            if c.is_control() || c == '"' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The `Content-Disposition` of the archive of a folder named `base` (from [`base_name`]):
/// an ASCII `filename` for old clients (non-ASCII as `_`) and the exact UTF-8 name in
/// `filename*` (RFC 6266).
pub(crate) fn disposition(base: &str, format: Format) -> String {
    let file = format!("{base}.{}", format.extension());
    let ascii: String = file
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = shared::percent_encode(file.as_bytes(), shared::Keep::Segment);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// The pipe's size asked of the kernel.
const PIPE_SIZE: usize = 1024 * 1024;

/// The most archives written at once; beyond, 503 (each has a thread and a pipe).
pub(crate) const MAX_AT_ONCE: usize = 16;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// An archive being written by its own thread, read from a pipe: the response body. The
/// thread stops when the folder is done or the reader is dropped (the client went away:
/// its next write fails with EPIPE).
pub(crate) struct Stream {
    /// The pipe's read end.
    pub reader: File,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("archive::Stream")
    }
}

/// Starts writing the archive of `dir` (canonical, under `root`) on a thread of its own,
/// into a pipe whose read end is returned. `None` when [`MAX_AT_ONCE`] are running or no
/// pipe or thread can be had (503).
pub(crate) fn spawn(
    root: PathBuf,
    dir: PathBuf,
    name: String,
    jail: Jail,
    format: Format,
) -> Option<Stream> {
    if RUNNING.fetch_add(1, Ordering::AcqRel) >= MAX_AT_ONCE {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
        return None;
    }
    let started = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .ok()
        .and_then(|(r, w)| {
            // A 1 MiB pipe (the kernel may give less): fewer, larger hand-overs between the
            // writing thread and the socket.
            let _ = rustix::pipe::fcntl_setpipe_size(&w, PIPE_SIZE);
            let writer = File::from(w);
            std::thread::Builder::new()
                .name("archive".into())
                .spawn(move || {
                    // A write error is the client gone: nothing to report.
                    let _ = match format {
                        Format::Tar => {
                            let mut pipe = Spliced {
                                out: io::BufWriter::with_capacity(64 * 1024, writer),
                                spliced: true,
                            };
                            write_tar(&root, &dir, &name, jail, &mut pipe)
                                .and_then(|()| pipe.flush())
                        }
                        Format::TarGz | Format::Zip => {
                            let mut out = io::BufWriter::with_capacity(256 * 1024, writer);
                            write(&root, &dir, &name, jail, format, &mut out)
                                .and_then(|()| out.flush())
                        }
                    };
                    RUNNING.fetch_sub(1, Ordering::AcqRel);
                })
                .ok()
                .map(|_| File::from(r))
        });
    if started.is_none() {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
    started.map(|reader| Stream { reader })
}

/// Writes the folder `dir` (canonical, under the canonical `root`) as an archive into
/// `out`, its entries under the top folder `name`. Stops at the first write error (a
/// client gone); read errors only leave the file out.
pub(crate) fn write(
    root: &Path,
    dir: &Path,
    name: &str,
    jail: Jail,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Tar => write_tar(root, dir, name, jail, &mut Copied::new(out)),
        Format::TarGz => {
            // Level 6, gzip's default: text-heavy folders halve, and a fast client is not
            // held back much by one core compressing.
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            write_tar(root, dir, name, jail, &mut Copied::new(&mut gz))?;
            gz.finish()?;
            Ok(())
        }
        Format::Zip => {
            let mut zip = Zip(zip::Writer::new(out));
            walk(root, dir, name, jail, &mut zip)?;
            zip.0.finish().map(drop)
        }
    }
}

/// Where a tar goes: a writer that also takes a file's bytes whole.
trait Sink: Write {
    /// Writes exactly `size` bytes of `file` from its start: cut there if it grew, zeros
    /// after its end if it shrank.
    fn file_bytes(&mut self, file: &mut File, size: u64) -> io::Result<()>;
}

/// Any writer: file bytes are read into a large buffer (the tar crate's own copy goes 8 KiB
/// at a time) and written.
struct Copied<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> Copied<W> {
    fn new(out: W) -> Self {
        Copied {
            out,
            buf: vec![0u8; COPY_BUF],
        }
    }
}

impl<W: Write> Write for Copied<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.out.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> Sink for Copied<W> {
    fn file_bytes(&mut self, file: &mut File, size: u64) -> io::Result<()> {
        let body = file.take(size).chain(io::repeat(0)).take(size);
        copy(body, &mut self.out, &mut self.buf)
    }
}

/// The pipe to the socket: file bytes are spliced into it, never read.
struct Spliced {
    out: io::BufWriter<File>,
    /// Splicing works here; cleared when the file system refuses it (EINVAL), after which
    /// bytes are copied.
    spliced: bool,
}

impl Write for Spliced {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.out.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Sink for Spliced {
    fn file_bytes(&mut self, file: &mut File, size: u64) -> io::Result<()> {
        // The header before these bytes is still buffered: out first, in order.
        self.out.flush()?;
        let mut offset = 0u64;
        while self.spliced && offset < size {
            let left = usize::try_from(size - offset).unwrap_or(usize::MAX);
            let flags = rustix::pipe::SpliceFlags::MORE;
            match rustix::pipe::splice(
                &*file,
                Some(&mut offset),
                self.out.get_ref(),
                None,
                left,
                flags,
            ) {
                // The file ended early (it shrank): zeros for the rest, below.
                Ok(0) => break,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                // A file system without splice: copy this file and the rest.
                Err(rustix::io::Errno::INVAL) => self.spliced = false,
                Err(e) => return Err(e.into()),
            }
        }
        if offset < size {
            // Copied from where splicing stopped: the file's bytes if splicing was refused,
            // zeros past its end if it shrank.
            let left = size - offset;
            file.seek(io::SeekFrom::Start(offset))?;
            let body = (&*file).take(left).chain(io::repeat(0)).take(left);
            let mut buf = vec![0u8; COPY_BUF.min(left as usize)];
            copy(body, &mut self.out, &mut buf)?;
        }
        Ok(())
    }
}

/// What an archive format does with each entry the walk finds.
trait Visit {
    /// A folder, at `inside` in the archive.
    fn folder(&mut self, inside: &Path, meta: &fs::Metadata) -> io::Result<()>;
    /// A regular file, opened, `size` bytes by its metadata.
    fn file(&mut self, inside: &Path, meta: &fs::Metadata, file: &mut File) -> io::Result<()>;
}

/// Walks the folder `dir` (canonical, under `root`) by browsing's rules, handing each entry
/// to `visit` under the top folder `name`: depth first, files before folders, each in name
/// order, a folder reached twice only once. Stops at the first error `visit` returns (a
/// client gone); entries that cannot be read are left out.
fn walk(root: &Path, dir: &Path, name: &str, jail: Jail, visit: &mut dyn Visit) -> io::Result<()> {
    let mut seen = HashSet::new();
    // Folders still to write: their path on disk and in the archive. Depth-first, so the
    // stack holds at most the pending siblings along one path.
    let mut stack: Vec<(PathBuf, PathBuf)> = vec![(dir.to_path_buf(), PathBuf::from(name))];
    while let Some((disk, inside)) = stack.pop() {
        let Ok(meta) = fs::metadata(&disk) else {
            continue;
        };
        if !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        visit.folder(&inside, &meta)?;
        let Ok(mut entries) = listing::entries(root, &disk, jail) else {
            continue;
        };
        listing::sort(&mut entries, Sort::default());
        // Files first, in name order; then the folders, pushed in reverse so they pop in
        // name order.
        let mut folders = Vec::new();
        for e in entries {
            let name = std::ffi::OsStr::from_bytes(&e.name);
            let (path, in_archive) = (disk.join(name), inside.join(name));
            if e.dir {
                folders.push((path, in_archive));
                continue;
            }
            let Ok(mut file) = File::open(&path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            visit.file(&in_archive, &meta, &mut file)?;
        }
        stack.extend(folders.into_iter().rev());
    }
    Ok(())
}

fn write_tar(
    root: &Path,
    dir: &Path,
    name: &str,
    jail: Jail,
    out: &mut dyn Sink,
) -> io::Result<()> {
    let mut tar = Tar(tar::Builder::new(out));
    walk(root, dir, name, jail, &mut tar)?;
    tar.0.finish()
}

/// A tar (ustar with GNU long names), as the walk goes.
struct Tar<'a>(tar::Builder<&'a mut dyn Sink>);

impl Visit for Tar<'_> {
    fn folder(&mut self, inside: &Path, meta: &fs::Metadata) -> io::Result<()> {
        let mut header = tar_header(meta, tar::EntryType::Directory, 0);
        self.0.append_data(&mut header, inside, io::empty())
    }

    fn file(&mut self, inside: &Path, meta: &fs::Metadata, file: &mut File) -> io::Result<()> {
        let size = meta.len();
        let mut header = tar_header(meta, tar::EntryType::Regular, size);
        if header.set_path(inside).is_ok() {
            // A name that fits the header: the header, then exactly `size` bytes whatever
            // the file does meanwhile (cut, or padded), then the padding to a 512-byte
            // block, exactly as `append_data` lays them out.
            header.set_cksum();
            let out = self.0.get_mut();
            out.write_all(header.as_bytes())?;
            out.file_bytes(file, size)?;
            let pad = (512 - size % 512) % 512;
            out.write_all(&[0u8; 512][..pad as usize])
        } else {
            // A long name needs the crate's GNU long-name entry first.
            let body = file.take(size).chain(io::repeat(0)).take(size);
            self.0.append_data(&mut header, inside, body)
        }
    }
}

/// A zip, as the walk goes.
struct Zip<'a>(zip::Writer<&'a mut dyn Write>);

impl Visit for Zip<'_> {
    fn folder(&mut self, inside: &Path, meta: &fs::Metadata) -> io::Result<()> {
        let mut name = inside.as_os_str().as_bytes().to_vec();
        name.push(b'/');
        self.0.folder(&name, meta.mtime())
    }

    fn file(&mut self, inside: &Path, meta: &fs::Metadata, file: &mut File) -> io::Result<()> {
        // 644, or 755 for files someone may run, as in a tar: no other bits leak.
        let mode = if meta.mode() & 0o111 != 0 {
            0o100755
        } else {
            0o100644
        };
        let name = inside.as_os_str().as_bytes();
        self.0.file(name, meta.mtime(), mode, meta.len(), file)
    }
}

/// The copy buffer for file bytes.
const COPY_BUF: usize = 256 * 1024;

/// Copies all of `from` into `to` through `buf`.
fn copy(mut from: impl Read, to: &mut dyn Write, buf: &mut [u8]) -> io::Result<()> {
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}

/// A header that says no more than browsing does: the name (set by the caller), size,
/// modification time and whether it runs; owner 0, no user or group names.
fn tar_header(meta: &fs::Metadata, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mtime(meta.mtime().max(0) as u64);
    // 644, or 755 for folders and files someone may run: no other bits leak.
    let runnable = kind == tar::EntryType::Directory || meta.mode() & 0o111 != 0;
    h.set_mode(if runnable { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::symlink;

    use crate::testdir::{self, TestDir as Site};

    fn site() -> Site {
        let site = testdir::new();
        let (base, root) = (&site.base, &site.root);
        let long = "l".repeat(150);
        fs::create_dir_all(root.join("sub dir/deeper")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join("a.txt"), "alpha").unwrap();
        fs::write(root.join("caf\u{e9}.txt"), "unicode").unwrap();
        fs::write(root.join("sub dir/b.bin"), vec![0u8, 1, 2, 255]).unwrap();
        fs::write(root.join("sub dir/deeper").join(&long), "long name").unwrap();
        fs::write(root.join(".env"), "SECRET").unwrap();
        fs::write(root.join(".git/config"), "SECRET").unwrap();
        fs::write(base.join("outside.txt"), "SECRET").unwrap();
        fs::write(root.join("big.bin"), vec![7u8; 300_000]).unwrap();
        symlink(base.join("outside.txt"), root.join("escape.txt")).unwrap();
        symlink(base, root.join("updir")).unwrap();
        symlink(root.join("a.txt"), root.join("inside-link")).unwrap();
        symlink(root, root.join("sub dir/loop")).unwrap();
        symlink(root.join("missing"), root.join("broken")).unwrap();
        site
    }

    /// The archive's entries: path → Some(bytes) for files, None for folders.
    fn read_back(bytes: &[u8]) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let kind = entry.header().entry_type();
            let data = if kind.is_dir() {
                None
            } else {
                let mut v = Vec::new();
                entry.read_to_end(&mut v).unwrap();
                Some(v)
            };
            assert!(out.insert(path.clone(), data).is_none(), "{path} twice");
        }
        out
    }

    fn archive(s: &Site, jail: Jail, format: Format) -> Vec<u8> {
        let mut out = Vec::new();
        write(&s.root, &s.root, "root", jail, format, &mut out).unwrap();
        out
    }

    #[test]
    fn holds_what_browsing_shows_byte_for_byte() {
        let s = site();
        let got = read_back(&archive(&s, Jail::default(), Format::Tar));
        let long = format!("root/sub dir/deeper/{}", "l".repeat(150));
        let mut want: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
        for d in [
            "root/",
            "root/sub dir/",
            "root/sub dir/deeper/",
            "root/empty/",
        ] {
            want.insert(d.into(), None);
        }
        for (p, data) in [
            ("root/a.txt", b"alpha".to_vec()),
            ("root/inside-link", b"alpha".to_vec()),
            ("root/caf\u{e9}.txt", b"unicode".to_vec()),
            ("root/sub dir/b.bin", vec![0, 1, 2, 255]),
            (long.as_str(), b"long name".to_vec()),
            ("root/big.bin", vec![7u8; 300_000]),
        ] {
            want.insert(p.into(), Some(data));
        }
        let trimmed: BTreeMap<String, Option<Vec<u8>>> = got
            .into_iter()
            .map(|(k, v)| {
                (
                    if v.is_none() && !k.ends_with('/') {
                        format!("{k}/")
                    } else {
                        k
                    },
                    v,
                )
            })
            .collect();
        assert_eq!(trimmed, want);
    }

    #[test]
    fn the_jail_opened_adds_hidden_names() {
        let s = site();
        let jail = Jail {
            hidden: true,
            follow_symlinks: false,
        };
        let got = read_back(&archive(&s, jail, Format::Tar));
        assert_eq!(got.get("root/.env"), Some(&Some(b"SECRET".to_vec())));
        assert!(
            !got.keys()
                .any(|k| k.contains("outside") || k.contains("escape"))
        );
    }

    #[test]
    fn tar_gz_reads_back_with_the_system_tar_and_is_the_same_each_time() {
        let s = site();
        let gz = archive(&s, Jail::default(), Format::TarGz);
        assert_eq!(
            gz,
            archive(&s, Jail::default(), Format::TarGz),
            "same folder, other bytes"
        );
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(tar, archive(&s, Jail::default(), Format::Tar));
        let Ok(mut child) = std::process::Command::new("tar")
            .args(["-tzf", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            return; // no system tar: the crate's reading above stands
        };
        child.stdin.take().unwrap().write_all(&gz).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listed = String::from_utf8(out.stdout).unwrap();
        assert!(
            listed.lines().any(|l| l == "root/sub dir/b.bin"),
            "{listed}"
        );
        assert!(
            listed.lines().any(|l| l.ends_with(&"l".repeat(150))),
            "{listed}"
        );
        assert!(
            !listed.contains(".env") && !listed.contains("escape"),
            "{listed}"
        );
    }

    #[test]
    fn a_failing_writer_stops_it() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.0 < b.len() {
                    return Err(io::Error::from(io::ErrorKind::BrokenPipe));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let s = site();
        let e = write(
            &s.root,
            &s.root,
            "r",
            Jail::default(),
            Format::Tar,
            &mut Full(2000),
        );
        assert!(e.is_err());
    }

    #[test]
    fn a_spawned_archive_reads_back_from_its_pipe() {
        let s = site();
        let start = || {
            let (root, name) = (s.root.clone(), "root".to_string());
            spawn(root.clone(), root, name, Jail::default(), Format::Tar).unwrap()
        };
        let mut stream = start();
        let mut bytes = Vec::new();
        stream.reader.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, archive(&s, Jail::default(), Format::Tar));
        // A reader dropped early stops the thread (the count comes back down).
        drop(start());
        crate::testdir::eventually(|| RUNNING.load(Ordering::Acquire) == 0);
    }

    #[test]
    fn spliced_file_bytes_are_cut_or_padded_to_the_announced_size() {
        let s = site();
        let path = s.root.join("a.txt"); // "alpha"
        for (size, want) in [
            (5, b"alpha".to_vec()),
            (3, b"alp".to_vec()),         // it grew since its header: cut
            (8, b"alpha\0\0\0".to_vec()), // it shrank: zeros, never a short entry
        ] {
            let (r, w) = rustix::pipe::pipe().unwrap();
            let mut pipe = Spliced {
                out: io::BufWriter::new(File::from(w)),
                spliced: true,
            };
            pipe.write_all(b"head").unwrap();
            let mut file = File::open(&path).unwrap();
            pipe.file_bytes(&mut file, size).unwrap();
            pipe.write_all(b"tail").unwrap();
            drop(pipe);
            let mut got = Vec::new();
            File::from(r).read_to_end(&mut got).unwrap();
            assert_eq!(got, [&b"head"[..], &want, b"tail"].concat(), "size {size}");
        }
    }

    #[test]
    fn queries_and_names() {
        let cases = [
            (Some("download=tar"), Some(Format::Tar)),
            (Some("sort=size&download=tar.gz"), Some(Format::TarGz)),
            (Some("download=zip"), Some(Format::Zip)),
            (Some("download=rar"), None),
            (Some(""), None),
            (None, None),
        ];
        for (q, want) in cases {
            assert_eq!(Format::from_query(q), want, "{q:?}");
        }
        assert_eq!(base_name("/"), "root");
        assert_eq!(
            disposition("caf\u{e9} x", Format::TarGz),
            "attachment; filename=\"caf_ x.tar.gz\"; filename*=UTF-8''caf%C3%A9%20x.tar.gz"
        );
        assert_eq!(base_name("/a/caf\u{e9} \"x\"/"), "caf\u{e9} _x_");
    }
}
