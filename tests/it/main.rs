//! Black-box tests: the real server over HTTP against a real database.
//! One test binary (linking once is what takes time on small machines);
//! one module per subject.

mod support;

mod api;
mod bench_modes;
mod config;
mod connections;
mod dashboard;
mod dashboard_explain;
mod end_to_end;
mod exactly_once;
mod explain;
mod explain_cli;
mod first_start;
mod graph;
mod health;
mod hostile_input;
mod openapi;
mod partitioning;
mod plivo;
mod qoe_once;
mod quality;
mod read_isolation;
mod read_replica;
mod replicas;
mod retention;
mod rollups;
mod shutdown;
mod store;
mod store_schema;
mod ucwa;
mod writer_batching;
