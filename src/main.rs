//! The `eks-token` binary. Everything lives in the library; what is here is the order of
//! work, so the fast path is plain to see.

use std::process::ExitCode;

use eks_token::cli::Command;
use eks_token::command::token::TokenRun;

fn main() -> ExitCode {
    let cli = match eks_token::start(std::env::args_os()) {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    let args = match &cli.command {
        Command::Token(args) => args,
        Command::Other(command) => return eks_token::finish(eks_token::run(command)),
    };
    let exec_info = std::env::var_os("KUBERNETES_EXEC_INFO");
    let mut run = match TokenRun::new(args, exec_info.as_deref()) {
        Ok(run) => run,
        Err(e) => return eks_token::finish(Err(e)),
    };
    // Fast path: a cache hit is a stat of each AWS config file, one small file read and
    // one write to stdout. The AWS SDK, the async runtime, config parsing and TLS are
    // never touched.
    if let Some(out) = run.from_cache(chrono::Utc::now()) {
        return eks_token::print(&out);
    }
    // Middle path: the token is stale, the credentials behind it cached and fresh. It is
    // signed again where the last one was, with aws-sigv4 alone: still no SDK, runtime,
    // config parsing or AWS call.
    if let Some(out) = run.resign(chrono::Utc::now()) {
        return eks_token::print(&out);
    }
    // Slow path: the AWS config, credentials (cached or asked for), signing, the cache.
    eks_token::finish(run.mint())
}
