//! What a person reads: each subcommand's `--help` ends with two or three examples that
//! the real parser accepts; `eks-token man` writes one page per subcommand from the same
//! definition, each rendered by `man -l` without a warning (in the C locale too),
//! examples one a line;
//! `--version` names the commit and build date of a checkout (build.rs), the plain
//! version elsewhere.

mod support;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use eks_token::cli::{Cli, normalize};
use support::{BIN, ROOT, Sandbox, stdout_of};

/// Every subcommand a person can ask for help on, as its words (`["cache", "list"]`),
/// the top level first.
fn subcommands() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands() {
            if !sub.is_hide_set() && sub.get_name() != "help" {
                let mut deeper = path.clone();
                deeper.push(sub.get_name().to_owned());
                walk(sub, deeper, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), Vec::new(), &mut out);
    out
}

/// The eks-token command lines in an example line: a trailing `# comment` dropped, split
/// at `&&` and `|`, leading `VAR=value` and redirections dropped; other programs skipped.
fn commands(example: &str) -> Vec<Vec<String>> {
    let example = example.split(" # ").next().unwrap();
    example
        .split("&&")
        .flat_map(|part| part.split('|'))
        .filter_map(|part| {
            let mut words = Vec::new();
            let mut tokens = part
                .split_whitespace()
                .skip_while(|w| w.contains('=') && !w.starts_with('-'));
            while let Some(token) = tokens.next() {
                match token {
                    ">" | ">>" => drop(tokens.next()),
                    redirect if redirect.starts_with('>') => {}
                    word => words.push(word.to_owned()),
                }
            }
            (words.first()? == "eks-token").then_some(words)
        })
        .collect()
}

#[test]
fn every_help_ends_with_examples_the_parser_accepts() {
    let s = Sandbox::new();
    let all = subcommands();
    assert_eq!(all.len(), 15, "{all:?}");
    for path in all {
        for flag in ["--help", "-h"] {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push(flag);
            let run = s.run(&args);
            assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
            let (_, examples) = run
                .stdout
                .rsplit_once("\nExamples:\n")
                .unwrap_or_else(|| panic!("{args:?} has no examples:\n{}", run.stdout));
            let lines: Vec<&str> = examples
                .lines()
                .take_while(|l| l.starts_with("  "))
                .collect();
            assert!((2..=3).contains(&lines.len()), "{args:?}: {lines:?}");
            for line in lines {
                let found = commands(line);
                for words in &found {
                    let parsed = Cli::parse_args(normalize(words.iter().map(OsString::from)));
                    if let Err(e) = parsed {
                        panic!("{line}: {e}");
                    }
                }
                // The example runs the subcommand whose help shows it.
                let shown = format!("eks-token {}", path.join(" "));
                let first = found.first().map(|w| w.join(" ")).unwrap_or_default();
                assert!(
                    first.starts_with(shown.trim_end()),
                    "{line:?} under {shown}"
                );
            }
        }
    }
}

#[test]
fn example_lines_are_read_as_commands() {
    assert_eq!(
        commands("AWS_PROFILE=x eks-token token -i prod >/dev/null  # why"),
        [["eks-token", "token", "-i", "prod"]]
    );
    assert_eq!(
        commands("eks-token logout && eks-token login --profile p"),
        [
            vec!["eks-token", "logout"],
            vec!["eks-token", "login", "--profile", "p"]
        ]
    );
    assert_eq!(commands("eks-token man | man -l -"), [["eks-token", "man"]]);
    assert_eq!(
        commands("eks-token completions zsh > ~/.zfunc/_eks-token   # with fpath"),
        [["eks-token", "completions", "zsh"]]
    );
}

#[test]
fn man_renders_every_page_with_its_examples() {
    let s = Sandbox::new();
    let dir = s.path("man1");
    let run = s.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("Wrote 15 man pages to {}.\n", dir.display())
    );
    let top = s.run(&["man"]);
    assert_eq!(
        top.stdout,
        std::fs::read_to_string(dir.join("eks-token.1")).unwrap()
    );

    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|path| {
            format!(
                "{}.1",
                ["eks-token".to_owned()]
                    .iter()
                    .chain(path)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("-")
            )
        })
        .collect();
    expected.sort();
    assert_eq!(pages, expected);

    for path in subcommands() {
        let name = ["eks-token".to_owned()]
            .iter()
            .chain(&path)
            .cloned()
            .collect::<Vec<_>>()
            .join("-");
        let out = s
            .command_of(
                "man",
                &[
                    "--warnings",
                    "-l",
                    dir.join(format!("{name}.1")).to_str().unwrap(),
                ],
            )
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.starts_with(&format!("{}(1)", name.to_uppercase())),
            "{text}"
        );
        let mut cmd = Cli::command();
        let sub = path
            .iter()
            .fold(&mut cmd, |c, p| c.find_subcommand_mut(p).unwrap());
        let about = sub.get_about().unwrap().to_string();
        let first_words: String = about
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&first_words),
            "{name}: {about}"
        );
        // Each example on a line of its own, as in --help.
        let after = sub.get_after_help().unwrap().to_string();
        let examples = text
            .split("\nEXAMPLES\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no EXAMPLES\n{text}"));
        for example in after.lines().filter_map(|l| l.strip_prefix("  ")) {
            assert!(
                examples.lines().any(|l| l.trim() == example.trim()),
                "{name}: {example:?} not a line of\n{examples}"
            );
        }
        assert_eq!(text.contains("SEE ALSO"), !path.is_empty(), "{name}");
    }
}

/// `git ARGS` in the checkout, or `None` when it is not one.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(ROOT)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// UTC day of a file's modification time, and the day before (a build across midnight).
fn days_of(path: &Path) -> [String; 2] {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    let at: chrono::DateTime<chrono::Utc> = modified.into();
    [at, at - chrono::TimeDelta::days(1)].map(|t| t.format("%Y-%m-%d").to_string())
}

#[test]
fn version_names_the_commit_and_build_date_of_this_checkout() {
    let run = Sandbox::new().run(&["--version"]);
    assert_eq!(run.code, 0);
    let version = env!("CARGO_PKG_VERSION");
    let is_top = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        Path::new(&top).canonicalize().ok() == Path::new(ROOT).canonicalize().ok()
    });
    if !is_top {
        assert_eq!(run.stdout, format!("eks-token {version}\n"));
        return;
    }
    let commit = git(&["rev-parse", "--short=7", "HEAD"]).unwrap();
    let dirty = !git(&[
        "status",
        "--porcelain",
        "--",
        "src",
        "build.rs",
        "Cargo.toml",
        "Cargo.lock",
    ])
    .unwrap()
    .is_empty();
    let suffix = if dirty { "-dirty" } else { "" };
    let days = days_of(Path::new(BIN));
    assert!(
        days.iter()
            .any(|day| run.stdout == format!("eks-token {version} ({commit}{suffix} {day})\n")),
        "{:?}, expected {commit}{suffix} and one of {days:?}",
        run.stdout
    );
}

/// build.rs on its own, compiled and run as cargo runs it, in a checkout, a dirty one, a
/// crate unpacked outside any repository and a packaged copy inside a checkout.
#[test]
fn build_script_versions_a_checkout_and_nothing_else() {
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("build-script");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut rustc = Command::new(rustc);
    rustc
        .args(["--edition", "2024", "-o"])
        .arg(&script)
        .arg(Path::new(ROOT).join("build.rs"));
    stdout_of(rustc);
    // 2026-11-29 12:00:00 UTC; the script's own day arithmetic, checked against chrono.
    let epoch = 1_795_953_600_i64;
    let day = chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let run = |dir: &Path| {
        let mut cmd = Command::new(&script);
        cmd.current_dir(dir)
            .env("CARGO_PKG_VERSION", "1.2.3")
            .env("CARGO_MANIFEST_DIR", dir)
            .env("SOURCE_DATE_EPOCH", epoch.to_string());
        let stdout = stdout_of(cmd);
        let version = stdout
            .lines()
            .find_map(|l| l.strip_prefix("cargo:rustc-env=EKS_TOKEN_VERSION="))
            .unwrap()
            .to_owned();
        assert!(
            stdout.contains(&format!("cargo:rustc-env=EKS_TOKEN_BUILD_DATE={day}\n")),
            "{stdout}"
        );
        (version, stdout)
    };
    let git_in = |dir: &Path, args: &[&str]| {
        let mut git = Command::new("git");
        git.arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args);
        stdout_of(git).trim().to_owned()
    };

    let unpacked = scratch.path().join("unpacked");
    std::fs::create_dir_all(unpacked.join("src")).unwrap();
    std::fs::write(unpacked.join("src/main.rs"), "fn main() {}\n").unwrap();
    assert_eq!(run(&unpacked).0, "1.2.3");

    let checkout = scratch.path().join("checkout");
    std::fs::create_dir_all(checkout.join("src")).unwrap();
    std::fs::write(checkout.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(checkout.join("README.md"), "readme\n").unwrap();
    git_in(&checkout, &["init", "-q"]);
    git_in(&checkout, &["add", "."]);
    git_in(&checkout, &["commit", "-q", "-m", "first"]);
    let commit = git_in(&checkout, &["rev-parse", "--short=7", "HEAD"]);
    let (version, stdout) = run(&checkout);
    assert_eq!(version, format!("1.2.3 ({commit} {day})"));
    let head = git_in(&checkout, &["rev-parse", "--git-path", "HEAD"]);
    assert!(
        stdout.contains(&format!(
            "cargo:rerun-if-changed={}\n",
            checkout.join(head).display()
        )),
        "{stdout}"
    );
    // Only what is built makes it dirty.
    std::fs::write(checkout.join("README.md"), "changed\n").unwrap();
    assert_eq!(run(&checkout).0, format!("1.2.3 ({commit} {day})"));
    std::fs::write(checkout.join("src/new.rs"), "\n").unwrap();
    assert_eq!(run(&checkout).0, format!("1.2.3 ({commit}-dirty {day})"));

    // `cargo package` builds its copy in target/package/ inside the checkout.
    let packaged = checkout.join("target/package/crate-1.2.3");
    std::fs::create_dir_all(packaged.join("src")).unwrap();
    assert_eq!(run(&packaged).0, "1.2.3");
}
