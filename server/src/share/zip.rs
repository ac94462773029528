//! A zip written as a stream (`?download=zip`), for a writer that cannot seek: stored entries
//! (zip files are mostly already-compressed media; storing keeps a fast client fast), each
//! file's CRC-32 and size in a data descriptor after its bytes (flag bit 3), names in UTF-8
//! (bit 11) when they are, ZIP64 fields for a file or an archive past 4 GiB, and the central
//! directory at the end (APPNOTE.TXT 6.3). The central directory is the one part held in
//! memory: 46 bytes, the name and the extra fields per entry, until the end.

use std::fs::File;
use std::io::{self, Read, Write};

use crate::http::clock::civil_from_days;

/// Sizes and offsets from this value on need ZIP64 fields.
const ZIP64_FROM: u64 = 0xFFFF_FFFF;

/// Flag bit 3: CRC and sizes follow the data, in a data descriptor.
const DESCRIPTOR: u16 = 1 << 3;
/// Flag bit 11: the name is UTF-8.
const UTF8: u16 = 1 << 11;

/// A zip being written into `out`.
pub(crate) struct Writer<W: Write> {
    out: W,
    /// Bytes written so far: the next local header's offset.
    offset: u64,
    /// The central directory so far.
    central: Vec<u8>,
    entries: u64,
    /// Sizes and offsets from here on take ZIP64 fields (lower in tests, to check them
    /// without writing 4 GiB).
    zip64_from: u64,
    buf: Vec<u8>,
}

/// What a header says about one entry.
struct Entry<'a> {
    name: &'a [u8],
    mtime: i64,
    /// Unix mode bits (with the file type), for the external attributes.
    mode: u32,
    crc: u32,
    size: u64,
    flags: u16,
    zip64: bool,
}

impl<W: Write> Writer<W> {
    /// A zip into `out`.
    pub(crate) fn new(out: W) -> Self {
        Writer {
            out,
            offset: 0,
            central: Vec::new(),
            entries: 0,
            zip64_from: ZIP64_FROM,
            buf: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// A folder entry: `name` ends with `/`.
    pub(crate) fn folder(&mut self, name: &[u8], mtime: i64) -> io::Result<()> {
        let e = Entry {
            name,
            mtime,
            mode: 0o040755,
            crc: 0,
            size: 0,
            flags: utf8_flag(name),
            zip64: false,
        };
        let at = self.offset;
        let head = local_header(&e);
        self.put(&head)?;
        self.record(&e, at);
        Ok(())
    }

    /// A file entry: at most `size` bytes of `file` (a file that grew is cut there; one
    /// that shrank is recorded with the bytes it had), its CRC computed as they go.
    pub(crate) fn file(
        &mut self,
        name: &[u8],
        mtime: i64,
        mode: u32,
        size: u64,
        file: &mut File,
    ) -> io::Result<()> {
        let mut e = Entry {
            name,
            mtime,
            mode,
            crc: 0,
            size: 0,
            flags: utf8_flag(name) | DESCRIPTOR,
            zip64: size >= self.zip64_from,
        };
        let at = self.offset;
        let head = local_header(&e);
        self.put(&head)?;
        let mut crc = crc32fast::Hasher::new();
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(256 * 1024, 0);
        let mut from = file.take(size);
        let copied = loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            };
            crc.update(&buf[..n]);
            e.size += n as u64;
            if let Err(err) = self.put(&buf[..n]) {
                break Err(err);
            }
        };
        self.buf = buf;
        copied?;
        e.crc = crc.finalize();
        let mut d = Vec::with_capacity(24);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&e.crc.to_le_bytes());
        if e.zip64 {
            d.extend_from_slice(&e.size.to_le_bytes());
            d.extend_from_slice(&e.size.to_le_bytes());
        } else {
            d.extend_from_slice(&(e.size as u32).to_le_bytes());
            d.extend_from_slice(&(e.size as u32).to_le_bytes());
        }
        self.put(&d)?;
        self.record(&e, at);
        Ok(())
    }

    /// The entry's central directory header, kept for the end.
    fn record(&mut self, e: &Entry<'_>, at: u64) {
        let big_size = e.zip64 || e.size >= self.zip64_from;
        let big_at = at >= self.zip64_from;
        let mut extra = Vec::new();
        if big_size || big_at {
            let mut z = Vec::new();
            if big_size {
                z.extend_from_slice(&e.size.to_le_bytes());
                z.extend_from_slice(&e.size.to_le_bytes());
            }
            if big_at {
                z.extend_from_slice(&at.to_le_bytes());
            }
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&(z.len() as u16).to_le_bytes());
            extra.extend_from_slice(&z);
        }
        extra.extend_from_slice(&time_extra(e.mtime));
        let (time, date) = dos_time(e.mtime);
        let size32 = if big_size { u32::MAX } else { e.size as u32 };
        let at32 = if big_at { u32::MAX } else { at as u32 };
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        // Made by: Unix (3), spec 4.5, so the external attributes hold the mode.
        c.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
        c.extend_from_slice(&version_needed(e.zip64 || big_size || big_at).to_le_bytes());
        c.extend_from_slice(&e.flags.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // stored
        c.extend_from_slice(&time.to_le_bytes());
        c.extend_from_slice(&date.to_le_bytes());
        c.extend_from_slice(&e.crc.to_le_bytes());
        c.extend_from_slice(&size32.to_le_bytes());
        c.extend_from_slice(&size32.to_le_bytes());
        c.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        c.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // comment
        c.extend_from_slice(&0u16.to_le_bytes()); // disk
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        let dos_dir = if e.mode & 0o170000 == 0o040000 {
            0x10
        } else {
            0
        };
        c.extend_from_slice(&((e.mode << 16) | dos_dir).to_le_bytes());
        c.extend_from_slice(&at32.to_le_bytes());
        c.extend_from_slice(e.name);
        c.extend_from_slice(&extra);
        self.entries += 1;
    }

    /// The central directory and its end records; returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let start = self.offset;
        let central = std::mem::take(&mut self.central);
        self.put(&central)?;
        let size = central.len() as u64;
        let big = self.entries >= 0xFFFF || size >= self.zip64_from || start >= self.zip64_from;
        let mut end = Vec::new();
        if big {
            let record_at = self.offset;
            end.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            end.extend_from_slice(&44u64.to_le_bytes()); // the rest of this record
            end.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
            end.extend_from_slice(&45u16.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes()); // this disk
            end.extend_from_slice(&0u32.to_le_bytes()); // the directory's disk
            end.extend_from_slice(&self.entries.to_le_bytes());
            end.extend_from_slice(&self.entries.to_le_bytes());
            end.extend_from_slice(&size.to_le_bytes());
            end.extend_from_slice(&start.to_le_bytes());
            // The locator.
            end.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&record_at.to_le_bytes());
            end.extend_from_slice(&1u32.to_le_bytes());
        }
        let clamp16 = |n: u64| if big { 0xFFFF } else { n as u16 };
        let clamp32 = |n: u64| if big { u32::MAX } else { n as u32 };
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&clamp16(self.entries).to_le_bytes());
        end.extend_from_slice(&clamp16(self.entries).to_le_bytes());
        end.extend_from_slice(&clamp32(size).to_le_bytes());
        end.extend_from_slice(&clamp32(start).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // comment
        self.put(&end)?;
        Ok(self.out)
    }
}

/// Bit 11 when the name is UTF-8 (else the bytes as they are, which readers take as
/// code page 437).
fn utf8_flag(name: &[u8]) -> u16 {
    if std::str::from_utf8(name).is_ok() && !name.is_ascii() {
        UTF8
    } else {
        0
    }
}

fn version_needed(zip64: bool) -> u16 {
    if zip64 { 45 } else { 20 }
}

/// A local file header. With a data descriptor to follow, CRC and sizes are zero here; a
/// ZIP64 entry says so now (0xFFFFFFFF and an extra field), so its descriptor's sizes take
/// 8 bytes.
fn local_header(e: &Entry<'_>) -> Vec<u8> {
    let (time, date) = dos_time(e.mtime);
    let mut extra = Vec::new();
    if e.zip64 {
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&[0u8; 16]);
    }
    extra.extend_from_slice(&time_extra(e.mtime));
    let sizes = if e.zip64 { u32::MAX } else { 0 };
    let mut h = Vec::with_capacity(30 + e.name.len() + extra.len());
    h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    h.extend_from_slice(&version_needed(e.zip64).to_le_bytes());
    h.extend_from_slice(&e.flags.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // stored
    h.extend_from_slice(&time.to_le_bytes());
    h.extend_from_slice(&date.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // CRC: in the descriptor
    h.extend_from_slice(&sizes.to_le_bytes());
    h.extend_from_slice(&sizes.to_le_bytes());
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    h.extend_from_slice(e.name);
    h.extend_from_slice(&extra);
    h
}

/// The extended timestamp field ("UT"): the modification time in UTC seconds, which
/// unzip and 7-Zip restore exactly (the DOS time has no zone and 2-second steps).
fn time_extra(mtime: i64) -> Vec<u8> {
    let Ok(t) = u32::try_from(mtime) else {
        return Vec::new();
    };
    let mut x = Vec::with_capacity(9);
    x.extend_from_slice(&0x5455u16.to_le_bytes());
    x.extend_from_slice(&5u16.to_le_bytes());
    x.push(1); // the modification time follows
    x.extend_from_slice(&t.to_le_bytes());
    x
}

/// MS-DOS time and date of a Unix time (taken as UTC), clamped to DOS's 1980–2107.
fn dos_time(mtime: i64) -> (u16, u16) {
    let (y, m, d) = civil_from_days(mtime.div_euclid(86_400));
    if y < 1980 {
        return (0, (1 << 5) | 1); // 1980-01-01 00:00
    }
    if y > 2107 {
        return ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    }
    let s = mtime.rem_euclid(86_400) as u32;
    let time = ((s / 3600) << 11) | ((s / 60 % 60) << 5) | ((s % 60) / 2);
    let date = (((y - 1980) as u32) << 9) | (m << 5) | d;
    (time as u16, date as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        assert_eq!(dos_time(0), (0, 0x21));
        // 2024-02-29 13:45:58 UTC
        let t = 1_709_214_358;
        assert_eq!(
            dos_time(t),
            ((13 << 11) | (45 << 5) | 29, (44 << 9) | (2 << 5) | 29)
        );
    }

    /// Writes a zip of `files` (name, bytes) with ZIP64 fields from `zip64_from` on, and
    /// has python's zipfile test it and give back each entry; skipped without python3.
    fn python_reads(files: &[(&str, &[u8])], zip64_from: u64) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(Vec::new());
        w.zip64_from = zip64_from;
        w.folder(b"top/", 1_700_000_000).unwrap();
        for (name, bytes) in files {
            let path = dir.path().join("f");
            std::fs::write(&path, bytes).unwrap();
            let mut f = File::open(&path).unwrap();
            let name = format!("top/{name}");
            w.file(
                name.as_bytes(),
                1_700_000_000,
                0o100644,
                bytes.len() as u64,
                &mut f,
            )
            .unwrap();
        }
        let zip = w.finish().unwrap();
        let path = dir.path().join("a.zip");
        std::fs::write(&path, zip).unwrap();
        let script = "import sys,zipfile\n\
            z=zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            for i in z.infolist(): print(i.filename, i.file_size, z.read(i).hex())";
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    #[test]
    fn python_reads_it_back_with_and_without_zip64() {
        let files: [(&str, &[u8]); 3] = [
            ("a.txt", b"alpha"),
            ("caf\u{e9}.bin", &[0, 1, 2, 255]),
            ("empty", b""),
        ];
        let want = "top/ 0 \ntop/a.txt 5 616c706861\ntop/caf\u{e9}.bin 4 000102ff\ntop/empty 0 \n";
        for zip64_from in [ZIP64_FROM, 0] {
            let Some(got) = python_reads(&files, zip64_from) else {
                return;
            };
            assert_eq!(got, want, "zip64 from {zip64_from}");
        }
    }
}
