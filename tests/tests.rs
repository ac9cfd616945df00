//! The integration suite: one binary, one module per area.

mod hosts;
mod util;
