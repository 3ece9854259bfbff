//! Shape, strides and offset of a tensor inside its storage.

/// Sizes or strides of up to four dims kept inline: a tensor of at most 4-D is made without
/// allocating for its layout (two allocations of every small op's result before).
pub(crate) type Dims = smallvec::SmallVec<[usize; 4]>;

/// `Dims::from_slice` without a call to `memcpy` for up to four dims, the usual case: a
/// library call for every shape and strides copied was 2 % of a small graph's time (`perf`
/// on the 100-step chain). A fixed four-step copy, so that the compiler does not make it a
/// `memcpy` of the slice's length again.
#[inline]
pub(crate) fn dims_of(values: &[usize]) -> Dims {
    if values.len() > 4 {
        return Dims::from_slice(values);
    }
    let mut inline = [0usize; 4];
    for (i, slot) in inline.iter_mut().enumerate() {
        *slot = values.get(i).copied().unwrap_or(0);
    }
    Dims::from_buf_and_len(inline, values.len())
}

/// Where a tensor's elements sit in its storage (strides in elements, never negative).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub shape: Dims,
    pub strides: Dims,
    pub offset: usize,
}

impl Clone for Layout {
    /// Copies the dims as slices: `SmallVec`'s own `clone` goes through its generic `extend`,
    /// ~50 instructions a copy, and a small op clones a layout several times (2.4 % of the
    /// gradient-descent step in callgrind).
    fn clone(&self) -> Layout {
        self.restarted_at(self.offset)
    }
}

/// Row-major strides for `shape`.
pub(crate) fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = smallvec::smallvec![0; shape.len()];
    let mut acc = 1;
    for (stride, &size) in strides.iter_mut().zip(shape).rev() {
        *stride = acc;
        acc *= size.max(1);
    }
    strides
}

/// Whether two shapes are equal, compared a dim at a time. Slice equality calls `memcmp`,
/// even for empty slices, and a 0-dim tensor's `shape()` (or a `&[]`) is empty with the
/// placeholder address 8: glibc's AVX-512 `memcmp` reads it with a masked load, which on an
/// AMD EPYC (Zen 4) took ~42 ns per call (a fault-suppression assist) where valid pointers
/// take ~3 ns (a C loop of 10M calls); in `perf` on `small_gd` 4 % of a scalar
/// gradient-descent step was that load. Shapes have a few dims: a loop is cheaper than the
/// call anyway.
#[inline]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    for i in 0..a.len() {
        if a[i] != b[i] {
            return false;
        }
    }
    true
}

pub(crate) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout { shape: dims_of(shape), strides: contiguous_strides(shape), offset: 0 }
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// How many storage elements the layout reaches from its offset: one past its last
    /// element (0 when it has none).
    pub fn extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        1 + self.shape.iter().zip(&self.strides).map(|(&n, &s)| (n - 1) * s).sum::<usize>()
    }

    /// Where a contiguous layout's elements are in its storage, `offset..offset + numel`, and
    /// `0..0` when it has none: an empty view may sit at any offset, even past the end of an
    /// empty storage (`zeros(&[2, 0]).index(idx![1])` is at offset 1 of nothing).
    pub fn span(&self) -> std::ops::Range<usize> {
        match self.numel() {
            0 => 0..0,
            n => self.offset..self.offset + n,
        }
    }

    /// The same shape and strides from offset 0: the layout of a new buffer that holds this
    /// one's elements in the same order (slices copy cheaper than a clone).
    pub fn restarted(&self) -> Layout {
        self.restarted_at(0)
    }

    fn restarted_at(&self, offset: usize) -> Layout {
        Layout { shape: dims_of(&self.shape), strides: dims_of(&self.strides), offset }
    }

    /// True when the strides are exactly the row-major ones for the shape (what
    /// `contiguous_strides` gives; `is_contiguous` also accepts any stride on a dim of size 1).
    pub fn is_row_major(&self) -> bool {
        let mut expected = 1;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if stride != expected {
                return false;
            }
            expected *= size.max(1);
        }
        true
    }

    /// True when the elements are one dense row-major run starting at `offset`; as torch has
    /// it, always for a tensor with no elements (`x[:, 0:-1, 1:1].is_contiguous()` is True,
    /// whatever its strides, so `contiguous()` returns it as it is).
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = 1;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if size != 1 && stride != expected {
                return false;
            }
            expected *= size;
        }
        true
    }

    /// torch's `is_non_overlapping_and_dense`: the elements fill one dense run of the storage,
    /// each position once, in some order of the dims (a transpose is, a slice with a step or an
    /// expanded dim is not). Dims of size 1 do not count.
    pub fn is_non_overlapping_and_dense(&self) -> bool {
        // torch's flag is `is_contiguous || ...` (a tensor of no elements is contiguous)
        if self.is_contiguous() {
            return true;
        }
        if self.shape.len() == 1 {
            return self.shape[0] < 2 || self.strides[0] == 1;
        }
        let mut dims: Vec<usize> = (0..self.shape.len()).filter(|&d| self.shape[d] >= 2).collect();
        dims.sort_by_key(|&d| self.strides[d]);
        let mut expected = 1;
        for d in dims {
            if self.strides[d] != expected {
                return false;
            }
            expected *= self.shape[d];
        }
        true
    }

    /// Storage positions of the elements, in row-major order.
    pub fn positions(&self) -> Positions<'_> {
        Positions { layout: self, index: vec![0; self.shape.len()], next: self.offset, left: self.numel() }
    }
}

/// Iterator over storage positions in row-major order (an odometer over the shape).
pub(crate) struct Positions<'a> {
    layout: &'a Layout,
    index: Vec<usize>,
    next: usize,
    left: usize,
}

impl Iterator for Positions<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let current = self.next;
        for dim in (0..self.index.len()).rev() {
            self.index[dim] += 1;
            self.next += self.layout.strides[dim];
            if self.index[dim] < self.layout.shape[dim] {
                break;
            }
            self.next -= self.layout.strides[dim] * self.index[dim];
            self.index[dim] = 0;
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Positions<'_> {}

/// How two tensors of one storage share elements, as torch's `get_overlap_status` sees it
/// (`at::MemOverlapStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overlap {
    /// No element in common.
    No,
    /// The same elements in the same order: the same span of the storage with the same strides.
    Full,
    /// Some elements in common, or the same span walked differently (a transpose of a square).
    Partial,
    /// One of them is not dense (a step, an expanded dim): torch does not decide, nor raises.
    TooHard,
}

/// The overlap of two layouts in the same storage: torch compares the spans of dense tensors
/// (first to one past the last element), and only strides when the spans are the same.
pub(crate) fn overlap(a: &Layout, b: &Layout) -> Overlap {
    if a.numel() == 0 || b.numel() == 0 {
        return Overlap::No;
    }
    if !a.is_non_overlapping_and_dense() || !b.is_non_overlapping_and_dense() {
        return Overlap::TooHard;
    }
    let (a_begin, b_begin) = (a.offset, b.offset);
    let (a_end, b_end) = (a_begin + a.numel(), b_begin + b.numel());
    if a_begin == b_begin && a_end == b_end {
        return if a.strides == b.strides { Overlap::Full } else { Overlap::Partial };
    }
    if a_begin < b_end && b_begin < a_end {
        return Overlap::Partial;
    }
    Overlap::No
}

/// The broadcast shape of two shapes, or None when they do not broadcast.
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Dims> {
    let rank = a.len().max(b.len());
    let mut out: Dims = smallvec::smallvec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// `torch.Size([2, 3])`, as in PyTorch's messages.
/// A shape as PyTorch's error messages list it: `[2, 3]`.
pub(crate) fn shape_list(shape: &[usize]) -> String {
    format!("{shape:?}")
}

pub(crate) fn torch_size(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("torch.Size([{}])", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shape_compares_lengths_then_sizes() {
        let scalar: Vec<usize> = Vec::new(); // a 0-dim tensor's `shape()`
        assert!(same_shape(&scalar, &Dims::new()));
        assert!(same_shape(&[2, 3], &Dims::from_slice(&[2, 3])));
        assert!(!same_shape(&[2, 3], &[3, 2]));
        assert!(!same_shape(&[], &[1]));
        assert!(!same_shape(&[1, 1], &[1]));
    }

    #[test]
    fn positions_walk_a_transposed_layout() {
        let layout =
            Layout { shape: Dims::from_slice(&[3, 2]), strides: Dims::from_slice(&[1, 3]), offset: 0 };
        assert_eq!(layout.positions().collect::<Vec<_>>(), vec![0, 3, 1, 4, 2, 5]);
        assert!(!layout.is_contiguous());
        assert!(Layout::contiguous(&[2, 1, 3]).is_contiguous());
    }

    #[test]
    fn overlap_compares_spans_then_strides() {
        let whole = Layout::contiguous(&[4]);
        let at = |offset, shape: &[usize], strides: &[usize]| Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset,
        };
        assert_eq!(overlap(&whole, &whole), Overlap::Full);
        assert_eq!(overlap(&whole, &at(3, &[], &[])), Overlap::Partial);
        assert_eq!(overlap(&at(0, &[2], &[1]), &at(2, &[2], &[1])), Overlap::No);
        assert_eq!(overlap(&at(0, &[2], &[1]), &at(1, &[2], &[1])), Overlap::Partial);
        // same span, other strides: a square and its transpose, [4] and [4, 1]
        assert_eq!(overlap(&at(0, &[2, 2], &[2, 1]), &at(0, &[2, 2], &[1, 2])), Overlap::Partial);
        assert_eq!(overlap(&at(0, &[4, 1], &[1, 1]), &whole), Overlap::Partial);
        // a step or an expanded dim: not dense, torch does not decide
        assert_eq!(overlap(&at(0, &[2], &[2]), &at(1, &[2], &[2])), Overlap::TooHard);
        assert_eq!(overlap(&whole, &at(0, &[2, 4], &[0, 1])), Overlap::TooHard);
        assert_eq!(overlap(&whole, &at(0, &[0], &[1])), Overlap::No);
        assert!(at(0, &[2, 2], &[1, 2]).is_non_overlapping_and_dense());
        assert!(at(5, &[1, 3, 1], &[7, 1, 9]).is_non_overlapping_and_dense());
        assert!(!at(0, &[2, 3], &[3, 2]).is_non_overlapping_and_dense());
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(Dims::from_slice(&[3, 4])));
        assert_eq!(broadcast_shapes(&[], &[2, 2]), Some(Dims::from_slice(&[2, 2])));
        assert_eq!(broadcast_shapes(&[2], &[3]), None);
    }
}
