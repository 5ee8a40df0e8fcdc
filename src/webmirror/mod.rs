//! The web mirror: the TUI's screens as HTML pages (maud), read-write, served by hyper on a
//! runtime thread of its own (`http`), with the URL-to-screen state and routes in `server`.
//!
//! Nothing here decides anything. A GET builds the same [`crate::core::view::Screen`] the TUI
//! draws (through a [`crate::core::session::Session`] kept per browser) and renders it; a POST
//! decodes a form into the same [`crate::core::action::Action`]s the keys send, applies them
//! and answers 303 back to the page (post/redirect/get). The JSON API (`/api/...`) runs the
//! domain actions directly. A little inline JavaScript polls `/api/changes` and refreshes the
//! page when the database changes, and filters the model picker as you type; every page works
//! without it.

pub mod agents;
pub mod api;
pub mod budget;
pub mod create;
pub mod export;
pub mod form;
pub mod hermes;
pub mod http;
pub mod models;
pub mod notifications;
pub mod page;
pub mod picker;
pub mod screen;
pub mod server;
pub mod sessions;
pub mod setup;

pub use http::{Config, Limits, Running, ServeArgs, serve, start, start_in_process};
pub use page::PageCtx;
pub use screen::render_screen;
