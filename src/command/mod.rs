//! One module per subcommand; each turns parsed arguments into stdout text or an error.

pub mod cache;
pub mod doctor;
pub mod kubeconfig;
pub mod token;
pub mod whoami;
