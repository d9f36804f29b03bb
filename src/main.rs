//! The `eks-token` binary: everything lives in the library so tests can drive it.

fn main() -> std::process::ExitCode {
    eks_token::run(std::env::args_os())
}
