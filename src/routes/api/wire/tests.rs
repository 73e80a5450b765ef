//! Drift checks.
