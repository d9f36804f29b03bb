//! The one harness every integration test uses: run the real binary the way kubectl does
//! (clean environment, no stdin, `KUBERNETES_EXEC_INFO`) or as a person at a terminal
//! does, and start the test peers.
//!
//! Peers come from the venv that `tests/run.sh` builds; a missing peer fails the test
//! with the command that sets it up, it never skips.
//!
//! Each test binary compiles this module on its own and uses a part of it, hence
//! `dead_code` is allowed here (the allowance reaches the submodules), and unused
//! re-exports below.
#![allow(dead_code)]

mod keys;
mod kubeconfig;
mod oidc;
mod peers;
mod runner;
mod sso;
mod terminal;

#[allow(unused_imports)]
pub use self::{keys::*, kubeconfig::*, oidc::*, peers::*, runner::*, sso::*, terminal::*};
