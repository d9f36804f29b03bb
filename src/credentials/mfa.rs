//! The MFA code a role asks for (`mfa_serial`), typed at the terminal as botocore asks
//! for it (`AssumeRoleCredentialFetcher._assume_role_kwargs` with `getpass`): the prompt
//! `Enter MFA code for SERIAL: ` on stderr, one line read from stdin with echo off, within
//! `--login-timeout`. The terminal gets its echo back on every way out, a signal included.

use std::io::Write;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::CredentialsError;
use crate::message::single_line;
use crate::secrets;

/// A code is six digits; a line longer than this is not one.
const MAX_LINE: usize = 256;

/// Asks the person at the terminal for the code of the MFA device `serial`. Blocks: the
/// run has nothing else in flight while a person types.
pub(super) fn ask(serial: &str, timeout: Duration) -> Result<SecretString, CredentialsError> {
    let failed = |why: &str, timed_out: bool| CredentialsError::MfaCode {
        serial: serial.to_owned(),
        why: why.to_owned(),
        timed_out,
    };
    let line = {
        // Echo goes off before the prompt shows, so nothing typed after it is echoed or
        // thrown away.
        let _echo_off = EchoOff::start();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "Enter MFA code for {}: ", single_line(serial));
        let _ = stderr.flush();
        let line = read_line(timeout);
        // What Enter would have echoed.
        let _ = writeln!(stderr);
        line
    };
    let line = match line {
        Ok(line) => line,
        Err(Unread::TimedOut) => {
            return Err(failed(
                &format!(
                    "none was typed within {} (--login-timeout)",
                    crate::message::seconds(timeout)
                ),
                true,
            ));
        }
        Err(Unread::Closed) => {
            return Err(failed("stdin was closed before a code was typed", false));
        }
        Err(Unread::TooLong) => return Err(failed("the line typed is too long for a code", false)),
        Err(Unread::Failed(e)) => return Err(failed(&format!("cannot read stdin ({e})"), false)),
    };
    let code = line.trim();
    // Six digits are under `secrets`' shortest secret, but never shorter in the form STS
    // receives them (`TokenCode=123456`), which is how an endpoint echoing a request
    // would show them.
    secrets::remember(code);
    secrets::remember(&format!("TokenCode={code}"));
    if code.is_empty() {
        return Err(failed("an empty line was typed", false));
    }
    Ok(SecretString::from(code))
}

/// Why no line was read.
enum Unread {
    TimedOut,
    Closed,
    TooLong,
    Failed(std::io::Error),
}

/// One line from stdin (fd 0), waiting at most `timeout` for it.
fn read_line(timeout: Duration) -> Result<String, Unread> {
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Unread::TimedOut);
        }
        let mut poll = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: poll(2) on one pollfd we own.
        let ready = unsafe { libc::poll(&mut poll, 1, ms) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Unread::Failed(e));
        }
        if ready == 0 {
            continue;
        }
        let mut buf = [0u8; 64];
        // SAFETY: read(2) into a buffer we own, no more than its length.
        let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Err(Unread::Closed),
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Unread::Failed(e));
            }
            n => line.extend_from_slice(&buf[..n.unsigned_abs()]),
        }
        if let Some(end) = line.iter().position(|&b| b == b'\n') {
            line.truncate(end);
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > MAX_LINE {
            return Err(Unread::TooLong);
        }
    }
}

/// The terminal settings to put back, for the signal handler (null when none are saved).
static SAVED: AtomicPtr<libc::termios> = AtomicPtr::new(std::ptr::null_mut());

/// Signals that end a run at the prompt: the terminal's own (Ctrl-C, Ctrl-\), a hang-up,
/// and a plain `kill`.
const ENDING: [libc::c_int; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM];

/// stdin's terminal with echo off while it lives; the settings it had come back when it
/// is dropped, and, should one of [`ENDING`] arrive first, before that signal ends the
/// run as it would have.
struct EchoOff {
    saved: Option<Box<libc::termios>>,
    handlers: Vec<(libc::c_int, libc::sigaction)>,
}

impl EchoOff {
    fn start() -> Self {
        let mut off = Self {
            saved: None,
            handlers: Vec::new(),
        };
        // SAFETY: tcgetattr(3) fills the zeroed termios we own; on failure (stdin is
        // not a terminal) nothing is changed.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut settings) } != 0 {
            return off;
        }
        let mut saved = Box::new(settings);
        SAVED.store(&mut *saved, Ordering::SeqCst);
        off.saved = Some(saved);
        for signal in ENDING {
            // SAFETY: sigaction(2) with a handler that only calls async-signal-safe
            // functions (tcsetattr, signal, raise); the old action is kept to put back.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = restore_and_raise as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, &action, &mut old) == 0 {
                    off.handlers.push((signal, old));
                }
            }
        }
        settings.c_lflag &= !libc::ECHO;
        // SAFETY: tcsetattr(3) with settings tcgetattr gave, echo cleared. TCSAFLUSH, as
        // getpass: what was typed before the prompt is not taken for the code.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &settings);
        }
        off
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let Some(saved) = self.saved.take() else {
            return;
        };
        // SAFETY: puts back the settings tcgetattr gave, then the signal actions we
        // replaced; the handler reads `SAVED` only while it is set.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &*saved);
            for (signal, old) in &self.handlers {
                libc::sigaction(*signal, old, std::ptr::null_mut());
            }
        }
        SAVED.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}

/// Puts the terminal's settings back, then lets the signal do what it would have done.
extern "C" fn restore_and_raise(signal: libc::c_int) {
    let saved = SAVED.load(Ordering::SeqCst);
    // SAFETY: tcsetattr, signal and raise are async-signal-safe; `saved` points into the
    // live `EchoOff`'s box while it is non-null.
    unsafe {
        if !saved.is_null() {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
