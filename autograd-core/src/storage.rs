//! Flat, shared element storage. Tensors are views (shape, strides, offset) into a storage;
//! `detach()`, `.data()`, views and `.grad()` share one, so writing through one shows in all.
//!
//! The storage also carries the *version counter* that PyTorch keeps per storage: every
//! in-place write bumps it, and a saved tensor remembers the version it was saved at.

use std::cell::{Cell, Ref, RefCell, RefMut};

use crate::dtype::DType;

/// The elements of one storage, by dtype.
#[derive(Clone, Debug)]
pub(crate) enum Buffer {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F32(_) => DType::Float32,
            Buffer::F64(_) => DType::Float64,
            Buffer::I64(_) => DType::Int64,
            Buffer::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::Bool(v) => v.len(),
        }
    }

    /// Values given as f64, rounded or cast to `dtype` (float → int truncates like torch; see
    /// [`float_to_i64`]).
    pub fn from_f64(values: impl IntoIterator<Item = f64>, dtype: DType) -> Buffer {
        let values = values.into_iter();
        match dtype {
            DType::Float32 => Buffer::F32(values.map(|v| v as f32).collect()),
            DType::Float64 => Buffer::F64(values.collect()),
            DType::Int64 => Buffer::I64(values.map(float_to_i64).collect()),
            DType::Bool => Buffer::Bool(values.map(|v| v != 0.0).collect()),
        }
    }

    pub fn filled(value: f64, len: usize, dtype: DType) -> Buffer {
        match dtype {
            DType::Float32 => Buffer::F32(vec![value as f32; len]),
            DType::Float64 => Buffer::F64(vec![value; len]),
            DType::Int64 => Buffer::I64(vec![value as i64; len]),
            DType::Bool => Buffer::Bool(vec![value != 0.0; len]),
        }
    }

    /// A copy of the elements in `range`.
    pub fn copy_range(&self, range: std::ops::Range<usize>) -> Buffer {
        match self {
            Buffer::F32(v) => Buffer::F32(v[range].to_vec()),
            Buffer::F64(v) => Buffer::F64(v[range].to_vec()),
            Buffer::I64(v) => Buffer::I64(v[range].to_vec()),
            Buffer::Bool(v) => Buffer::Bool(v[range].to_vec()),
        }
    }

    pub fn get_f64(&self, index: usize) -> f64 {
        match self {
            Buffer::F32(v) => v[index] as f64,
            Buffer::F64(v) => v[index],
            Buffer::I64(v) => v[index] as f64,
            Buffer::Bool(v) => v[index] as u8 as f64,
        }
    }
}

/// A storage: the buffer (borrowed to read or write it) and its version counter.
#[derive(Debug)]
pub(crate) struct Storage {
    buffer: RefCell<Buffer>,
    version: Cell<u64>,
    /// torch's "efficient zero tensor" (what `sgn`'s backward returns): reads as zeros,
    /// refuses to be written in place.
    zero_tensor: Cell<bool>,
}

/// Buffers of at least this many elements are "large" for [`keep_large_buffers`].
const LARGE_BUFFER: usize = 1 << 16;

/// glibc gives every freed block over its mmap threshold back to the system, and trims the
/// top of its heap when more than its trim threshold is free there; its thresholds adapt to
/// the sizes it sees, but on a loop over 1M-element tensors it still gives pages back and
/// takes fresh zeroed ones for every temporary: 15 % of `(a**2 + b**3 + a*b).sum().backward()`
/// was the kernel's page-fault path (perf). The first time a large buffer is made, the
/// process keeps freed blocks up to 32 MiB in its heap for the next ones, with up to 64 MiB
/// free at the top before trimming: that case went from 7.1-7.9 to 3.5-3.6 ms per step
/// (`examples/big_elementwise.rs`, three runs each). The cost is memory the process keeps
/// after it freed large tensors; small tensors never trigger it.
fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only sets allocator parameters; glibc takes its own lock
            unsafe {
                crate::sys::mallopt(crate::sys::M_MMAP_THRESHOLD, 32 << 20);
                crate::sys::mallopt(crate::sys::M_TRIM_THRESHOLD, 64 << 20);
            }
        });
    }
}

impl Storage {
    pub fn new(buffer: Buffer) -> Storage {
        if buffer.len() >= LARGE_BUFFER {
            keep_large_buffers();
        }
        Storage { buffer: RefCell::new(buffer), version: Cell::new(0), zero_tensor: Cell::new(false) }
    }

    pub fn read(&self) -> Ref<'_, Buffer> {
        self.buffer.borrow()
    }

    pub fn write(&self) -> RefMut<'_, Buffer> {
        self.buffer.borrow_mut()
    }

    pub fn version(&self) -> u64 {
        self.version.get()
    }

    pub fn bump_version(&self) {
        self.version.set(self.version.get() + 1);
    }

    pub fn mark_zero_tensor(&self) {
        self.zero_tensor.set(true);
    }

    pub fn is_zero_tensor(&self) -> bool {
        self.zero_tensor.get()
    }
}

/// A float converted to int64 as torch's x86 build converts it (the processor's truncating
/// conversion): toward zero, and NaN, an infinity or anything out of int64's range becomes
/// -2^63 (`torch.tensor([float('nan'), float('inf')]).long()` is
/// `tensor([-9223372036854775808, -9223372036854775808])`), where Rust's `as` saturates.
#[inline]
pub(crate) fn float_to_i64(v: f64) -> i64 {
    // 2^63: the first double past i64::MAX
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&v) {
        v as i64
    } else {
        i64::MIN
    }
}
