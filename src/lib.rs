//! callq: a call-quality ingestion server.
//!
//! Clients POST quality feedback and media diagnostics in the wire styles they
//! already speak (UCWA, Microsoft Graph, Plivo); callq validates each request as
//! the original API would, normalizes it into one [`model::Report`], and stores
//! it durably through the group-commit [`store::Writer`].
//!
//! Data flows one way: `protocols` (wire formats → model) → `ingest` (the
//! one way a style submits a report) → `store` (model → SQL). `state` holds
//! the parts handlers extract; `app` wires the modules into one HTTP server.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod explain;
pub mod explain_file;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod http_message;
pub mod in_flight;
pub mod ingest;
pub mod maintenance;
pub mod model;
pub mod protocols;
pub mod serve;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod style;
pub mod telemetry;
