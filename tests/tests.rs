//! The integration suite: one binary, one module per area.

mod check;
// Not every helper serves every area.
#[allow(dead_code)]
mod util;
