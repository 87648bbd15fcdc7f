//! The detectors, one file each, named for the anomaly they flag.

pub mod label_issues;
