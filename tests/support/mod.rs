//! The one harness every integration test uses: run the real binary the way kubectl does
//! (clean environment, no stdin, `KUBERNETES_EXEC_INFO`), and start the test peers.
//!
//! Peers come from the venv that `tests/run.sh` builds; a missing peer fails the test
//! with the command that sets it up, it never skips.
//!
//! Each test binary compiles this module on its own and uses a part of it, hence
//! `dead_code` and `unused_imports` are allowed here (the allowance reaches the submodules).
#![allow(dead_code, unused_imports)]

pub mod keys;
pub mod kubeconfig;
pub mod peers;
pub mod runner;

pub use keys::*;
pub use kubeconfig::*;
pub use peers::*;
pub use runner::*;
