//! Flat, shared element storage. Tensors are views (shape, strides, offset) into a storage;
//! `detach()`, `.data()`, views and `.grad()` share one, so writing through one shows in all.
//!
//! The storage also carries the *version counter* that PyTorch keeps per storage: every
//! in-place write bumps it, and a saved tensor remembers the version it was saved at.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

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

    /// Values given as f64, rounded or cast to `dtype` (float → int truncates like torch).
    pub fn from_f64(values: impl IntoIterator<Item = f64>, dtype: DType) -> Buffer {
        let values = values.into_iter();
        match dtype {
            DType::Float32 => Buffer::F32(values.map(|v| v as f32).collect()),
            DType::Float64 => Buffer::F64(values.collect()),
            DType::Int64 => Buffer::I64(values.map(|v| v as i64).collect()),
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

    pub fn get_f64(&self, index: usize) -> f64 {
        match self {
            Buffer::F32(v) => v[index] as f64,
            Buffer::F64(v) => v[index],
            Buffer::I64(v) => v[index] as f64,
            Buffer::Bool(v) => v[index] as u8 as f64,
        }
    }
}

/// A storage: the buffer behind a lock, and its version counter.
#[derive(Debug)]
pub(crate) struct Storage {
    buffer: RwLock<Buffer>,
    version: AtomicU64,
    /// torch's "efficient zero tensor" (what `sgn`'s backward returns): reads as zeros,
    /// refuses to be written in place.
    zero_tensor: AtomicBool,
}

impl Storage {
    pub fn new(buffer: Buffer) -> Storage {
        Storage {
            buffer: RwLock::new(buffer),
            version: AtomicU64::new(0),
            zero_tensor: AtomicBool::new(false),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Buffer> {
        self.buffer.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Buffer> {
        self.buffer.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    pub fn mark_zero_tensor(&self) {
        self.zero_tensor.store(true, Ordering::Relaxed);
    }

    pub fn is_zero_tensor(&self) -> bool {
        self.zero_tensor.load(Ordering::Relaxed)
    }
}
