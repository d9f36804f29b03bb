//! `eks-token man`: one man page per subcommand (eks-token.1, eks-token-token.1 …) from
//! the same clap definition as `--help` (clap_mangen), with each page's examples.

use std::path::Path;

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::{Cli, ManArgs};
use crate::error::Error;

/// The date in each page's title line: the build's (build.rs).
const DATE: &str = env!("EKS_TOKEN_BUILD_DATE");

pub fn run(args: &ManArgs) -> Result<String, Error> {
    let pages = pages();
    let Some(dir) = &args.dir else {
        let (_, text) = pages.into_iter().next().expect("the top page comes first");
        return Ok(text);
    };
    let write_error = |path: &Path, e: std::io::Error| Error::Write {
        path: path.to_owned(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    for (name, text) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| write_error(&path, e))?;
    }
    Ok(format!(
        "Wrote {} man pages to {}.\n",
        pages.len(),
        dir.display()
    ))
}

/// Every page as (file name, roff text): eks-token.1 first, then each visible
/// subcommand's, depth first.
pub fn pages() -> Vec<(String, String)> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    add_pages(&root, true, &mut pages);
    pages
}

fn add_pages(cmd: &clap::Command, top: bool, pages: &mut Vec<(String, String)>) {
    let man = Man::new(cmd.clone())
        .title(
            cmd.get_display_name()
                .unwrap_or(cmd.get_name())
                .to_uppercase(),
        )
        .date(DATE)
        .source(concat!("eks-token ", env!("CARGO_PKG_VERSION")))
        .manual("eks-token manual");
    pages.push((man.get_filename(), render(&man, cmd, top)));
    for sub in cmd.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            add_pages(sub, false, pages);
        }
    }
}

/// clap_mangen's sections, but the examples of `after_help` as an EXAMPLES section with
/// each command on its own line (clap_mangen fills them into one paragraph), and a SEE
/// ALSO pointing back to eks-token(1).
fn render(man: &Man, cmd: &clap::Command, top: bool) -> String {
    let mut out = Vec::new();
    let rendered = man
        .render_title(&mut out)
        .and_then(|()| man.render_name_section(&mut out))
        .and_then(|()| man.render_synopsis_section(&mut out))
        .and_then(|()| man.render_description_section(&mut out))
        .and_then(|()| {
            let visible = cmd.get_arguments().any(|a| !a.is_hide_set());
            if visible {
                man.render_options_section(&mut out)
            } else {
                Ok(())
            }
        })
        .and_then(|()| {
            if cmd.has_subcommands() {
                man.render_subcommands_section(&mut out)
            } else {
                Ok(())
            }
        });
    rendered.expect("writing to a Vec cannot fail");
    let mut text = String::from_utf8(out).expect("clap_mangen writes UTF-8");
    if let Some(after) = cmd.get_after_help() {
        text.push_str(&examples(&after.to_string()));
    }
    if !top {
        text.push_str(".SH \"SEE ALSO\"\n\\fBeks\\-token\\fR(1)\n");
    }
    text
}

/// `Examples:` then indented command lines (`# …` after a command is its comment), then
/// prose paragraphs, as roff.
fn examples(after_help: &str) -> String {
    let mut roff = String::from(".SH EXAMPLES\n");
    let mut in_examples = false;
    for line in after_help.lines() {
        if line.trim() == "Examples:" {
            continue;
        }
        match line.strip_prefix("  ") {
            Some(example) => {
                if !in_examples {
                    roff.push_str(".PP\n.nf\n.RS 4\n");
                    in_examples = true;
                }
                roff.push_str(&escape(example.trim_end()));
                roff.push('\n');
            }
            None => {
                if in_examples {
                    roff.push_str(".RE\n.fi\n");
                    in_examples = false;
                }
                if !line.trim().is_empty() {
                    roff.push_str(".PP\n");
                    roff.push_str(&escape(line.trim()));
                    roff.push('\n');
                }
            }
        }
    }
    if in_examples {
        roff.push_str(".RE\n.fi\n");
    }
    roff
}

/// Text as roff: backslashes and hyphens escaped, a leading `.` or `'` made literal.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_subcommand() {
        let names: Vec<String> = pages().into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "eks-token.1",
                "eks-token-token.1",
                "eks-token-cache.1",
                "eks-token-cache-list.1",
                "eks-token-cache-clear.1",
                "eks-token-whoami.1",
                "eks-token-kubeconfig.1",
                "eks-token-kubeconfig-migrate.1",
                "eks-token-doctor.1",
                "eks-token-login.1",
                "eks-token-logout.1",
                "eks-token-oidc.1",
                "eks-token-oidc-setup.1",
                "eks-token-completions.1",
                "eks-token-man.1",
            ]
        );
    }

    #[test]
    fn examples_keep_one_command_a_line_and_escape_roff() {
        let roff = examples("Examples:\n  eks-token cache list\n  .hidden \\x\n\nSee more.");
        assert_eq!(
            roff,
            ".SH EXAMPLES\n.PP\n.nf\n.RS 4\neks\\-token cache list\n\\&.hidden \\ex\n.RE\n.fi\n.PP\nSee more.\n"
        );
    }
}
