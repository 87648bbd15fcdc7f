//! The aggregation rules, one file each, every one an [`Aggregator`](crate::Aggregator).

mod bulyan;
mod fltrust;
mod geometric_median;
mod krum;
mod mean;
mod median;
mod norm_clip;
mod trimmed_mean;

pub use bulyan::Bulyan;
pub use fltrust::FlTrust;
pub use geometric_median::GeometricMedian;
pub use krum::{Krum, MultiKrum};
pub use mean::Mean;
pub use median::Median;
pub use norm_clip::NormClip;
pub use trimmed_mean::TrimmedMean;
