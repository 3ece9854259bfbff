//! Matrix products agree with torch's to the last bit: the summation orders of torch 2.15's
//! CPU `mm` (oneMKL; `src/ops/gemm_order.rs`, `src/ops/gemm.rs`) against
//! `fixtures/gemm_order.json`, recorded by `tools/gemm_order/record_fixture.py` with one
//! thread: blocked sums cut as MKL cuts them (float32 and float64), small-batch `x @ w.t()`,
//! one-row and one-column products, 1x1 dots, one-term products, signed zeros, and `dot`;
//! and, with two threads, products with one output column or row (`x.t() @ v`, `A @ v`,
//! `x @ w`), split between the threads or not.

mod gemm_fixture;

use autograd_core::ops::linalg::MklKernels;

#[test]
fn matrix_products_match_torch_bit_for_bit() {
    // recorded on an Intel Xeon with AVX-512 (the fixture's `source`)
    gemm_fixture::products_match_torch("gemm_order.json", MklKernels::Avx512, 100);
}
