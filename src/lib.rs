//! Hiatus: a maintenance gateway. See ARCHITECTURE.md for the map.
//!
//! Configuration files are validated into a `Config` (`config`), compiled with the schedules
//! (`schedule`) and host patterns (`hosts`) into one immutable `Snapshot` (`engine`), which
//! answers for every request whether its tenant is in maintenance at `now` (`clock`).

// The binary may call its allocator (src/main.rs); the library stays free of unsafe code.
#![forbid(unsafe_code)]

pub mod acme;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod compiled;
pub mod config;
pub mod control;
pub mod engine;
pub mod gateway;
pub mod health;
pub mod hosts;
pub mod memory;
pub mod notify;
pub mod pages;
pub mod schedule;
pub mod status;
pub mod telemetry;
pub mod tls;
