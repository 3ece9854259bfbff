//! The tensor operations, one file per family. Each op computes its values and records its
//! backward through `autograd::record::record`, right below the forward code.

pub(crate) mod checks;
pub mod elementwise;
pub mod gather;
pub(crate) mod gemm;
pub(crate) mod gemm_order;
pub mod index;
pub mod inplace;
pub(crate) mod kernel;
pub mod linalg;
pub mod mkl_sqrt;
pub mod mkl_vml;
pub(crate) mod out_layout;
pub(crate) mod parallel;
pub mod reduce;
pub(crate) mod reduce_layout;
pub(crate) mod reduce_loops;
pub mod select;
pub mod shape;
pub mod softmax;
pub(crate) mod sum_order;
pub mod transcendental;
pub(crate) mod vector_lanes;
