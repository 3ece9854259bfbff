//! The zip container of PyTorch's `.pt` files, as far as `save` and `load` need it: entries
//! stored without compression (what `torch.save` writes), found through the central
//! directory (zip64 records included, which torch always writes), checked against their
//! CRC-32; written with each entry's bytes aligned to 64 bytes, as torch aligns storages.
//!
//! Written here rather than taken from a zip crate: the notebook kernel's analyser reads every
//! crate the engine depends on and keeps what it learns for the whole session, and a zip
//! crate brought five more crates (2.6 MB of source) into every student's kernel.

use std::io::{Error, ErrorKind, Result};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
/// The extra field torch pads local headers with ("FB").
const PADDING_FIELD: u16 = 0x4246;
const ZIP64_FIELD: u16 = 0x0001;
/// 1980-01-01 00:00:00, the earliest time a zip entry can have.
const DOS_DATE: u16 = (1 << 5) | 1;

fn invalid(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidData, what.into())
}

/// Offsets and sizes are 32-bit: the writer makes no zip64 records.
fn too_big() -> Error {
    Error::new(ErrorKind::InvalidInput, "cannot save more than 4 GiB in one file")
}

/// CRC-32 (IEEE, reflected), as zip stores it for each entry.
pub fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[[u32; 256]; 8]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [[0u32; 256]; 8];
        for i in 0..256u32 {
            let mut c = i;
            for _ in 0..8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            table[0][i as usize] = c;
        }
        // slicing by 8: table[k][b] is the CRC of byte b followed by k zero bytes
        for i in 0..256 {
            for k in 1..8 {
                let previous = table[k - 1][i];
                table[k][i] = (previous >> 8) ^ table[0][(previous & 0xff) as usize];
            }
        }
        table
    });
    let mut crc = !0u32;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let low = crc ^ u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let high = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        crc = table[7][(low & 0xff) as usize]
            ^ table[6][((low >> 8) & 0xff) as usize]
            ^ table[5][((low >> 16) & 0xff) as usize]
            ^ table[4][(low >> 24) as usize]
            ^ table[3][(high & 0xff) as usize]
            ^ table[2][((high >> 8) & 0xff) as usize]
            ^ table[1][((high >> 16) & 0xff) as usize]
            ^ table[0][(high >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ table[0][((crc ^ u32::from(b)) & 0xff) as usize];
    }
    !crc
}

// ----- writing -----------------------------------------------------------------------------

/// A zip archive of stored entries, built in memory.
pub struct Writer {
    bytes: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { bytes: Vec::new(), central: Vec::new(), entries: 0 }
    }

    /// Adds an entry whose data starts at a multiple of 64 bytes in the file.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let offset = u32::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let name_len = u16::try_from(name.len()).map_err(|_| invalid("entry name too long"))?;
        let crc = crc32(data);
        // the padding field needs its 4-byte header: a gap of 1 to 3 bytes takes 64 more
        let unpadded = self.bytes.len() + 30 + name.len();
        let mut padding = (64 - unpadded % 64) % 64;
        if (1..4).contains(&padding) {
            padding += 64;
        }
        let fixed = |out: &mut Vec<u8>| {
            put16(out, 20); // version needed: 2.0
            put16(out, 0); // flags
            put16(out, 0); // stored
            put16(out, 0); // time
            put16(out, DOS_DATE);
            put32(out, crc);
            put32(out, size);
            put32(out, size);
            put16(out, name_len);
        };
        put32(&mut self.bytes, LOCAL_HEADER);
        fixed(&mut self.bytes);
        put16(&mut self.bytes, padding as u16);
        self.bytes.extend_from_slice(name.as_bytes());
        if padding > 0 {
            put16(&mut self.bytes, PADDING_FIELD);
            put16(&mut self.bytes, (padding - 4) as u16);
            self.bytes.resize(self.bytes.len() + padding - 4, 0);
        }
        debug_assert_eq!(self.bytes.len() % 64, 0);
        self.bytes.extend_from_slice(data);

        put32(&mut self.central, CENTRAL_HEADER);
        put16(&mut self.central, 20); // made by: 2.0
        fixed(&mut self.central);
        put16(&mut self.central, 0); // extra
        put16(&mut self.central, 0); // comment
        put16(&mut self.central, 0); // disk
        put16(&mut self.central, 0); // internal attributes
        put32(&mut self.central, 0); // external attributes
        put32(&mut self.central, offset);
        self.central.extend_from_slice(name.as_bytes());
        self.entries = self.entries.checked_add(1).ok_or_else(|| invalid("too many entries"))?;
        Ok(())
    }

    /// The whole archive: the entries, their central directory and its end record.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let start = u32::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let size = u32::try_from(self.central.len()).map_err(|_| too_big())?;
        self.bytes.append(&mut self.central);
        put32(&mut self.bytes, END);
        put16(&mut self.bytes, 0); // this disk
        put16(&mut self.bytes, 0); // the directory's disk
        put16(&mut self.bytes, self.entries);
        put16(&mut self.bytes, self.entries);
        put32(&mut self.bytes, size);
        put32(&mut self.bytes, start);
        put16(&mut self.bytes, 0); // comment
        Ok(self.bytes)
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

// ----- reading -----------------------------------------------------------------------------

/// One entry of an archive: where its stored bytes are.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    method: u16,
    crc: u32,
    size: u64,
    local_header: u64,
}

/// The entries of the zip archive `bytes`, from its central directory.
pub fn entries(bytes: &[u8]) -> Result<Vec<Entry>> {
    let end = find_end(bytes).ok_or_else(|| invalid("no end of central directory"))?;
    let mut count = u64::from(read16(bytes, end + 10)?);
    let mut size = u64::from(read32(bytes, end + 12)?);
    let mut start = u64::from(read32(bytes, end + 16)?);
    if (count == 0xffff || size == 0xffff_ffff || start == 0xffff_ffff) && end >= 20 {
        // zip64: the locator just before the end record says where the zip64 end record is
        if read32(bytes, end - 20)? == ZIP64_LOCATOR {
            let record = to_usize(read64(bytes, end - 20 + 8)?)?;
            if read32(bytes, record)? != ZIP64_END {
                return Err(invalid("bad zip64 end of central directory"));
            }
            count = read64(bytes, record + 32)?;
            size = read64(bytes, record + 40)?;
            start = read64(bytes, record + 48)?;
        }
    }
    let (start, size) = (to_usize(start)?, to_usize(size)?);
    if start.checked_add(size).is_none_or(|e| e > bytes.len()) {
        return Err(invalid("central directory outside the file"));
    }
    let mut found = Vec::new();
    let mut at = start;
    for _ in 0..count {
        if read32(bytes, at)? != CENTRAL_HEADER {
            return Err(invalid("bad central directory entry"));
        }
        let method = read16(bytes, at + 10)?;
        let crc = read32(bytes, at + 16)?;
        let mut size = u64::from(read32(bytes, at + 24)?);
        let name_len = usize::from(read16(bytes, at + 28)?);
        let extra_len = usize::from(read16(bytes, at + 30)?);
        let comment_len = usize::from(read16(bytes, at + 32)?);
        let mut local_header = u64::from(read32(bytes, at + 42)?);
        let name = slice(bytes, at + 46, name_len)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let extra = slice(bytes, at + 46 + name_len, extra_len)?;
        if size == 0xffff_ffff || local_header == 0xffff_ffff {
            // zip64 extra field: the 64-bit values, in this order, for those that overflowed
            let compressed = u64::from(read32(bytes, at + 20)?);
            let mut values = zip64_values(extra).into_iter();
            if size == 0xffff_ffff {
                size = values.next().ok_or_else(|| invalid("missing zip64 size"))?;
            }
            if compressed == 0xffff_ffff {
                values.next();
            }
            if local_header == 0xffff_ffff {
                local_header = values.next().ok_or_else(|| invalid("missing zip64 offset"))?;
            }
        }
        found.push(Entry { name, method, crc, size, local_header });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(found)
}

/// The stored bytes of `entry`, checked against its CRC-32.
pub fn read<'a>(bytes: &'a [u8], entry: &Entry) -> Result<&'a [u8]> {
    if entry.method != 0 {
        return Err(invalid(format!(
            "{}: compressed entries (method {}) are not supported; torch.save stores them uncompressed",
            entry.name, entry.method
        )));
    }
    let header = to_usize(entry.local_header)?;
    if read32(bytes, header)? != LOCAL_HEADER {
        return Err(invalid(format!("{}: bad local header", entry.name)));
    }
    let name_len = usize::from(read16(bytes, header + 26)?);
    let extra_len = usize::from(read16(bytes, header + 28)?);
    let data = slice(bytes, header + 30 + name_len + extra_len, to_usize(entry.size)?)?;
    if crc32(data) != entry.crc {
        return Err(invalid(format!("{}: CRC-32 mismatch (the file is damaged)", entry.name)));
    }
    Ok(data)
}

fn zip64_values(mut extra: &[u8]) -> Vec<u64> {
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = usize::from(u16::from_le_bytes([extra[2], extra[3]]));
        let body = &extra[4..(4 + len).min(extra.len())];
        if id == ZIP64_FIELD {
            return body.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8"))).collect();
        }
        extra = &extra[(4 + len).min(extra.len())..];
    }
    Vec::new()
}

/// The end-of-central-directory record: the last one, within the final 64 KiB + 22 bytes.
fn find_end(bytes: &[u8]) -> Option<usize> {
    let earliest = bytes.len().saturating_sub(22 + 0xffff);
    (earliest..=bytes.len().checked_sub(22)?).rev().find(|&i| bytes[i..i + 4] == END.to_le_bytes())
}

fn slice(bytes: &[u8], at: usize, len: usize) -> Result<&[u8]> {
    at.checked_add(len).and_then(|end| bytes.get(at..end)).ok_or_else(|| invalid("truncated zip file"))
}

fn read16(bytes: &[u8], at: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(slice(bytes, at, 2)?.try_into().expect("2")))
}

fn read32(bytes: &[u8], at: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(slice(bytes, at, 4)?.try_into().expect("4")))
}

fn read64(bytes: &[u8], at: usize) -> Result<u64> {
    Ok(u64::from_le_bytes(slice(bytes, at, 8)?.try_into().expect("8")))
}

fn to_usize(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| invalid("zip offset out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_known_strings() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        // every length around the 8-byte steps gives the bytewise answer
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let mut crc = !0u32;
            for &b in &data[..n] {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
                }
            }
            assert_eq!(crc32(&data[..n]), !crc, "{n} bytes");
        }
    }

    #[test]
    fn written_entries_read_back_aligned() {
        let mut writer = Writer::new();
        let datas: Vec<Vec<u8>> = (0..7).map(|i| (0..i * 13).map(|b| b as u8).collect()).collect();
        for (i, data) in datas.iter().enumerate() {
            writer.add(&format!("archive/{}", "x".repeat(i)), data).unwrap();
        }
        let bytes = writer.finish().unwrap();
        let entries = entries(&bytes).unwrap();
        assert_eq!(entries.len(), 7);
        for (i, (entry, data)) in entries.iter().zip(&datas).enumerate() {
            assert_eq!(entry.name, format!("archive/{}", "x".repeat(i)));
            let read = read(&bytes, entry).unwrap();
            assert_eq!(read, &data[..]);
            assert_eq!((read.as_ptr() as usize - bytes.as_ptr() as usize) % 64, 0);
        }
    }

    #[test]
    fn damaged_archives_are_errors_not_panics() {
        let mut writer = Writer::new();
        writer.add("a/data.pkl", b"payload bytes").unwrap();
        let bytes = writer.finish().unwrap();
        // a flipped data byte fails the CRC check
        let mut flipped = bytes.clone();
        let at = flipped.windows(7).position(|w| w == b"payload").unwrap();
        flipped[at] ^= 1;
        let entry = &entries(&flipped).unwrap()[0];
        assert!(read(&flipped, entry).unwrap_err().to_string().contains("CRC-32"));
        // every truncation is an error
        for n in 0..bytes.len() {
            let cut = &bytes[..n];
            if let Ok(found) = entries(cut) {
                for entry in &found {
                    let _ = read(cut, entry);
                }
            }
        }
        assert!(entries(b"not a zip").is_err());
    }
}
