//! nxr: a terminal control plane for Hermes Agent teams on OpenRouter's free models.
//!
//! `core` owns every decision and all I/O; `cli` prints what core builds.

pub mod cli;
pub mod core;
pub mod tabs;
pub mod webmirror;
pub mod widgets;
