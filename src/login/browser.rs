//! Opening a URL in the user's browser as the platform expects: `$BROWSER` when set (a
//! command, or a `:`-separated list of them, given the URL as its argument or in place of
//! `%s`, as Python's `webbrowser` reads it), else `xdg-open`, `open` or `start`. The
//! browser's output goes to stderr, never to stdout, which belongs to the credential.

use std::process::{Command, Stdio};

/// Starts the browser at `url` without waiting for it: `command` when given (kubelogin's
/// `--browser-command`), else as the platform does. `Err` says why none could be started
/// (the caller has printed the URL already).
pub fn open(url: &str, command: Option<&str>) -> Result<(), String> {
    let mut tried = Vec::new();
    let browser = command
        .map(str::to_owned)
        .or_else(|| std::env::var("BROWSER").ok());
    for argv in commands(browser.as_deref(), url) {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        // The browser's stdout is our stderr.
        if let Some(stderr) = stderr_handle() {
            command.stdout(stderr);
        } else {
            command.stdout(Stdio::null());
        }
        match command.spawn() {
            // Not waited for: a browser may run for hours.
            Ok(_) => return Ok(()),
            Err(e) => tried.push(format!("{program}: {e}")),
        }
    }
    Err(if tried.is_empty() {
        "no browser command for this platform".into()
    } else {
        tried.join("; ")
    })
}

/// The commands to try, in order, each as its words.
fn commands(browser: Option<&str>, url: &str) -> Vec<Vec<String>> {
    let with_url = |command: &str| -> Vec<String> {
        let mut words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if words.iter().any(|w| w.contains("%s")) {
            for w in &mut words {
                *w = w.replace("%s", url);
            }
        } else if !words.is_empty() {
            words.push(url.to_owned());
        }
        words
    };
    if let Some(browser) = browser.filter(|b| !b.trim().is_empty()) {
        return browser
            .split(':')
            .map(with_url)
            .filter(|w| !w.is_empty())
            .collect();
    }
    let platform: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd /c start \"\""]
    } else {
        &["xdg-open", "sensible-browser"]
    };
    platform.iter().map(|c| with_url(c)).collect()
}

fn stderr_handle() -> Option<Stdio> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
        Some(Stdio::from(fd))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_is_a_command_list_taking_the_url() {
        let url = "http://127.0.0.1:1/authorize?a=b";
        assert_eq!(
            commands(Some("firefox --new-tab"), url),
            vec![vec!["firefox", "--new-tab", url]]
        );
        assert_eq!(
            commands(Some("w3m %s:lynx"), url),
            vec![vec!["w3m", url], vec!["lynx", url]]
        );
        assert_eq!(commands(Some("  "), url), commands(None, url));
        assert!(commands(None, url).iter().all(|c| c.last().unwrap() == url));
    }
}
