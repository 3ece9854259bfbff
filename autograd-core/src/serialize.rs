//! `save` / `load` in PyTorch's own file format: a zip archive holding a pickle (`data.pkl`)
//! that rebuilds the tensor with `torch._utils._rebuild_tensor_v2`, and the raw little-endian
//! storage bytes (`data/0`). A file we write opens with `torch.load` (also with
//! `weights_only=True`); a single-tensor file from `torch.save` loads here.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use crate::dtype::DType;
use crate::layout::Layout;
use crate::storage::{Buffer, Storage};
use crate::tensor::Tensor;
use crate::zip_archive;

fn storage_class(dtype: DType) -> &'static str {
    match dtype {
        DType::Float32 => "FloatStorage",
        DType::Float64 => "DoubleStorage",
        DType::Int64 => "LongStorage",
        DType::Bool => "BoolStorage",
    }
}

fn dtype_of_storage(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" => DType::Float32,
        "DoubleStorage" => DType::Float64,
        "LongStorage" => DType::Int64,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

// ----- writing -----------------------------------------------------------------------------

fn pickle_int(out: &mut Vec<u8>, v: usize) {
    if v < 256 {
        out.extend_from_slice(&[b'K', v as u8]);
    } else if v < 65536 {
        out.push(b'M');
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else {
        out.push(b'J');
        out.extend_from_slice(&(v as i32).to_le_bytes());
    }
}

fn pickle_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn pickle_int_tuple(out: &mut Vec<u8>, values: &[usize]) {
    match values.len() {
        0 => out.push(b')'),
        n @ 1..=3 => {
            for &v in values {
                pickle_int(out, v);
            }
            out.push([0x85, 0x86, 0x87][n - 1]);
        }
        _ => {
            out.push(b'(');
            for &v in values {
                pickle_int(out, v);
            }
            out.push(b't');
        }
    }
}

/// The pickle torch writes for one tensor (protocol 2).
fn tensor_pickle(dtype: DType, numel: usize, shape: &[usize], requires_grad: bool) -> Vec<u8> {
    let mut p = vec![0x80, 2];
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n");
    p.push(b'('); // args of _rebuild_tensor_v2
    p.push(b'('); // persistent id tuple
    pickle_str(&mut p, "storage");
    p.extend_from_slice(format!("ctorch\n{}\n", storage_class(dtype)).as_bytes());
    pickle_str(&mut p, "0");
    pickle_str(&mut p, "cpu");
    pickle_int(&mut p, numel);
    p.push(b't');
    p.push(b'Q'); // BINPERSID
    pickle_int(&mut p, 0); // storage offset
    pickle_int_tuple(&mut p, shape);
    pickle_int_tuple(&mut p, &crate::layout::contiguous_strides(shape));
    p.push(if requires_grad { 0x88 } else { 0x89 });
    p.extend_from_slice(b"ccollections\nOrderedDict\n)R");
    p.push(b't');
    p.push(b'R');
    p.push(b'.');
    p
}

fn storage_bytes(buffer: &Buffer) -> Vec<u8> {
    match buffer {
        Buffer::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Buffer::Bool(v) => v.iter().map(|&x| x as u8).collect(),
    }
}

/// Writes `t` to `path` like `torch.save(t, path)`.
///
/// ```
/// use autograd_core::prelude::*;
/// let path = std::env::temp_dir().join("autograd_core_doc_save.pt");
/// let t = tensor!([[1., 2.], [3., 4.]]);
/// save(&t, &path).unwrap();
/// assert_eq!(load(&path).unwrap().to_string(), t.to_string());
/// ```
pub fn save(t: &Tensor, path: impl AsRef<Path>) -> std::io::Result<()> {
    let path = path.as_ref();
    let archive =
        path.file_stem().and_then(|s| s.to_str()).filter(|s| !s.is_empty()).unwrap_or("archive").to_string();
    let shape = t.shape();
    let buffer = t.contiguous_buffer();
    let pickle = tensor_pickle(t.dtype(), buffer.len(), &shape, t.requires_grad());
    let mut zip = zip_archive::Writer::new();
    let entries: Vec<(String, Vec<u8>)> = vec![
        ("data.pkl".into(), pickle),
        (".format_version".into(), b"1".to_vec()),
        (".storage_alignment".into(), b"64".to_vec()),
        ("byteorder".into(), b"little".to_vec()),
        ("data/0".into(), storage_bytes(&buffer)),
        ("version".into(), b"3\n".to_vec()),
    ];
    for (name, bytes) in entries {
        zip.add(&format!("{archive}/{name}"), &bytes)?;
    }
    std::fs::write(path, zip.finish()?)
}

// ----- reading -----------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    #[allow(dead_code)]
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    Storage {
        dtype: DType,
        key: String,
    },
    Tensor {
        storage: Box<Value>,
        offset: usize,
        shape: Vec<usize>,
        strides: Vec<usize>,
        requires_grad: bool,
    },
    Mark,
}

fn bad(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

fn as_usizes(v: &Value) -> std::io::Result<Vec<usize>> {
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                other => Err(bad(format!("expected a size, got {other:?}"))),
            })
            .collect(),
        other => Err(bad(format!("expected a tuple of sizes, got {other:?}"))),
    }
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Unpickler<'a> {
    fn take(&mut self, n: usize) -> std::io::Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| bad("truncated pickle"))?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> std::io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn line(&mut self) -> std::io::Result<String> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("unterminated line"))?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(text)
    }

    fn pop(&mut self) -> std::io::Result<Value> {
        self.stack.pop().ok_or_else(|| bad("pickle stack underflow"))
    }

    fn pop_mark(&mut self) -> std::io::Result<Vec<Value>> {
        let mark = self.stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| bad("no MARK"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn reduce(&mut self, callable: Value, args: Value) -> std::io::Result<Value> {
        let Value::Global(module, name) = callable else { return Err(bad("REDUCE on a non-callable")) };
        let Value::Tuple(args) = args else { return Err(bad("REDUCE arguments are not a tuple")) };
        match (module.as_str(), name.as_str()) {
            ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
                if args.len() < 4 {
                    return Err(bad("_rebuild_tensor_v2 with too few arguments"));
                }
                let offset = match args[1] {
                    Value::Int(n) => n as usize,
                    _ => return Err(bad("bad storage offset")),
                };
                let requires_grad = matches!(args.get(4), Some(Value::Bool(true)));
                Ok(Value::Tensor {
                    storage: Box::new(args[0].clone()),
                    offset,
                    shape: as_usizes(&args[2])?,
                    strides: as_usizes(&args[3])?,
                    requires_grad,
                })
            }
            ("collections", "OrderedDict") => Ok(Value::Dict(Vec::new())),
            ("torch._utils", "_rebuild_parameter") => match args.into_iter().next() {
                Some(t @ Value::Tensor { .. }) => Ok(t),
                _ => Err(bad("bad _rebuild_parameter")),
            },
            _ => Err(bad(format!("this file holds a {module}.{name}, not a single tensor"))),
        }
    }

    fn run(&mut self) -> std::io::Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?;
                }
                0x95 => {
                    self.take(8)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err(bad("bad STACK_GLOBAL")),
                    }
                }
                b'q' => {
                    let key = self.u8()? as u32;
                    let top = self.stack.last().cloned().ok_or_else(|| bad("BINPUT on empty stack"))?;
                    self.memo.insert(key, top);
                }
                b'r' => {
                    let key = self.u32()?;
                    let top = self.stack.last().cloned().ok_or_else(|| bad("LONG_BINPUT on empty stack"))?;
                    self.memo.insert(key, top);
                }
                0x94 => {
                    let key = self.memo.len() as u32;
                    let top = self.stack.last().cloned().ok_or_else(|| bad("MEMOIZE on empty stack"))?;
                    self.memo.insert(key, top);
                }
                b'h' => {
                    let key = self.u8()? as u32;
                    self.stack.push(self.memo.get(&key).cloned().ok_or_else(|| bad("unknown memo key"))?);
                }
                b'j' => {
                    let key = self.u32()?;
                    self.stack.push(self.memo.get(&key).cloned().ok_or_else(|| bad("unknown memo key"))?);
                }
                b'(' => self.stack.push(Value::Mark),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(bad("pickle stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let text = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(text));
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let text = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(text));
                }
                b'K' => {
                    let v = self.u8()? as i64;
                    self.stack.push(Value::Int(v));
                }
                b'M' => {
                    let b = self.take(2)?;
                    self.stack.push(Value::Int(u16::from_le_bytes([b[0], b[1]]) as i64));
                }
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.stack.push(Value::Int(v));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let bytes = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &b) in bytes.iter().enumerate().take(8) {
                        v |= (b as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    let b = self.take(8)?;
                    self.stack.push(Value::Float(f64::from_be_bytes(b.try_into().expect("8 bytes"))));
                }
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'N' => self.stack.push(Value::None),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    if let Some(Value::Dict(d)) = self.stack.last_mut() {
                        d.push((k, v));
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if let Some(Value::Dict(d)) = self.stack.last_mut() {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                }
                b'a' => {
                    let v = self.pop()?;
                    if let Some(Value::List(l)) = self.stack.last_mut() {
                        l.push(v);
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    if let Some(Value::List(l)) = self.stack.last_mut() {
                        l.extend(items);
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let Value::Tuple(parts) = pid else { return Err(bad("persistent id is not a tuple")) };
                    let (Some(Value::Global(_, class)), Some(Value::Str(key))) = (parts.get(1), parts.get(2))
                    else {
                        return Err(bad("unexpected persistent id"));
                    };
                    let dtype = dtype_of_storage(class)
                        .ok_or_else(|| bad(format!("unsupported storage type {class}")))?;
                    self.stack.push(Value::Storage { dtype, key: key.clone() });
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let value = self.reduce(callable, args)?;
                    self.stack.push(value);
                }
                b'b' => {
                    self.pop()?; // BUILD state (e.g. of an OrderedDict): not needed for a tensor
                }
                b'.' => return self.pop(),
                other => return Err(bad(format!("unsupported pickle opcode {other:#04x}"))),
            }
        }
    }
}

fn buffer_from_bytes(bytes: &[u8], dtype: DType) -> Buffer {
    match dtype {
        DType::Float32 => {
            Buffer::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect())
        }
        DType::Float64 => {
            Buffer::F64(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8"))).collect())
        }
        DType::Int64 => {
            Buffer::I64(bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8"))).collect())
        }
        DType::Bool => Buffer::Bool(bytes.iter().map(|&b| b != 0).collect()),
    }
}

/// Reads a tensor saved by `torch.save(t, path)` (or by [`save`]).
pub fn load(path: impl AsRef<Path>) -> std::io::Result<Tensor> {
    let file = std::fs::read(path.as_ref())?;
    let entries = zip_archive::entries(&file).map_err(|e| bad(format!("not a PyTorch zip file: {e}")))?;
    let pkl = entries
        .iter()
        .find(|e| e.name.ends_with("data.pkl"))
        .ok_or_else(|| bad("no data.pkl in the archive"))?;
    let prefix = pkl.name.trim_end_matches("data.pkl").to_string();
    let pickle = zip_archive::read(&file, pkl)?;
    let value = Unpickler { data: pickle, pos: 0, stack: Vec::new(), memo: HashMap::new() }.run()?;
    let Value::Tensor { storage, offset, shape, strides, requires_grad } = value else {
        return Err(bad("the file does not hold a single tensor"));
    };
    let Value::Storage { dtype, key } = *storage else { return Err(bad("tensor without storage")) };
    let name = format!("{prefix}data/{key}");
    let entry =
        entries.iter().find(|e| e.name == name).ok_or_else(|| bad(format!("no {name} in the archive")))?;
    let buffer = buffer_from_bytes(zip_archive::read(&file, entry)?, dtype);
    let layout = Layout { shape: shape.into(), strides: strides.into(), offset };
    let last =
        layout.shape.iter().zip(&layout.strides).map(|(&n, &s)| n.saturating_sub(1) * s).sum::<usize>()
            + offset;
    if layout.numel() > 0 && last >= buffer.len() {
        return Err(bad("tensor extends past its storage"));
    }
    let t = Tensor::from_parts(Rc::new(Storage::new(buffer)), layout, dtype);
    Ok(if requires_grad && dtype.is_floating_point() { t.requires_grad_(true) } else { t })
}
