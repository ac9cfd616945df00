//! The integration suite: one binary, one module per area.

mod builtins;
mod daemon;
mod util;
