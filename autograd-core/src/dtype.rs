//! Element types and PyTorch's type-promotion rules.

use std::fmt;

/// The element type of a tensor (`torch.float32`, `torch.float64`, `torch.int64`, `torch.bool`).
///
/// ```
/// use autograd_core::prelude::*;
/// assert_eq!(tensor!([1., 2.]).dtype(), DType::Float32);
/// assert_eq!(tensor!([1, 2]).dtype(), DType::Int64);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Float32,
    Float64,
    Int64,
    Bool,
}

/// The three categories PyTorch's promotion compares first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    Bool,
    Integer,
    Float,
}

impl DType {
    /// True for float32 and float64, the dtypes that can require gradients.
    pub fn is_floating_point(self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }

    /// Bytes per element.
    pub fn size_of(self) -> usize {
        match self {
            DType::Float32 => 4,
            DType::Float64 | DType::Int64 => 8,
            DType::Bool => 1,
        }
    }

    /// PyTorch's name, as in `dtype=torch.float64`.
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::Float32 => "torch.float32",
            DType::Float64 => "torch.float64",
            DType::Int64 => "torch.int64",
            DType::Bool => "torch.bool",
        }
    }

    /// The legacy type name in some error messages (`torch.FloatTensor`).
    pub(crate) fn legacy_name(self) -> &'static str {
        match self {
            DType::Float32 => "torch.FloatTensor",
            DType::Float64 => "torch.DoubleTensor",
            DType::Int64 => "torch.LongTensor",
            // (torch's table of legacy names has no bool entry: its C++ type name stands in)
            DType::Bool => "CPUBoolType",
        }
    }

    pub(crate) fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::Int64 => Category::Integer,
            DType::Float32 | DType::Float64 => Category::Float,
        }
    }

    /// The smallest dtype both can be converted to (`torch.promote_types`).
    pub fn promote(self, other: DType) -> DType {
        use DType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Float64, _) | (_, Float64) => Float64,
            (Float32, _) | (_, Float32) => Float32,
            (Int64, _) | (_, Int64) => Int64,
            _ => Bool,
        }
    }

    /// The capitalised name in PyTorch's messages (`Float`, `Double`, `Long`, `Bool`), as
    /// in `result type Float can't be cast to the desired output type Long`.
    pub(crate) fn title(self) -> &'static str {
        match self {
            DType::Float32 => "Float",
            DType::Float64 => "Double",
            DType::Int64 => "Long",
            DType::Bool => "Bool",
        }
    }

    /// The C++ scalar type name in some of PyTorch's messages (`float`, `double`, `long int`,
    /// `bool`), as in `expected m1 and m2 to have the same dtype, but got: float != double`.
    pub(crate) fn cpp_name(self) -> &'static str {
        match self {
            DType::Float32 => "float",
            DType::Float64 => "double",
            DType::Int64 => "long int",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.torch_name())
    }
}

/// One operand's part in `torch.result_type`: tensors with dimensions outrank 0-dim tensors,
/// which outrank plain numbers, unless a lower class brings a higher category.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand {
    Dimensioned(DType),
    ZeroDim(DType),
    /// A Rust number: its dtype is that of a Python number (float → float32, int → int64).
    Number(DType),
}

fn combine_categories(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (Some(h), None) => Some(h),
        (Some(h), Some(l)) => {
            if h.is_floating_point() {
                Some(h)
            } else if h == DType::Bool || l.is_floating_point() {
                Some(h.promote(l))
            } else {
                Some(h)
            }
        }
    }
}

/// `torch.result_type` over the given operands.
pub(crate) fn result_type(operands: &[Operand]) -> DType {
    let mut dims = None;
    let mut zeros = None;
    let mut numbers = None;
    for op in operands {
        let (slot, dtype) = match *op {
            Operand::Dimensioned(d) => (&mut dims, d),
            Operand::ZeroDim(d) => (&mut zeros, d),
            Operand::Number(d) => (&mut numbers, d),
        };
        *slot = Some(match *slot {
            None => dtype,
            Some(prev) => DType::promote(prev, dtype),
        });
    }
    combine_categories(dims, combine_categories(zeros, numbers)).unwrap_or(DType::Float32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_follows_torch() {
        assert_eq!(result_type(&[Operand::Dimensioned(Int64), Operand::Number(Float32)]), Float32);
        assert_eq!(result_type(&[Operand::Dimensioned(Float32), Operand::ZeroDim(Float64)]), Float32);
        assert_eq!(result_type(&[Operand::Dimensioned(Int64), Operand::ZeroDim(Float64)]), Float64);
        assert_eq!(result_type(&[Operand::Dimensioned(Float32), Operand::Dimensioned(Float64)]), Float64);
        assert_eq!(result_type(&[Operand::Dimensioned(Bool), Operand::Number(Int64)]), Int64);
        assert_eq!(result_type(&[Operand::ZeroDim(Float64), Operand::Number(Float32)]), Float64);
    }
}
