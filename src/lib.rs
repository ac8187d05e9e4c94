//! Hiatus: a maintenance gateway. See ARCHITECTURE.md for the map.
pub mod schedule;
