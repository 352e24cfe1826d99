//! Black-box tests: the real server over HTTP against a real database.
//! One test binary (linking once is what takes time on small machines).

mod support;

mod api;
mod connections;
mod dashboard;
mod end_to_end;
mod foundation;
mod graph;
mod hostile_input;
mod isolation;
mod plivo;
mod quality;
mod store_schema;
mod truth;
mod ucwa;
