//! `eks-token completions SHELL`: clap_complete's script for the shell, with the values
//! of `--profile` and `--context` asked of `eks-token __complete profile|context` in
//! bash, zsh and fish. clap_complete's own dynamic completion needs its unstable feature;
//! these are its stable, static scripts, and the names come from one small call that
//! reads local files only (the AWS config files, the kubeconfig), never the network.

use std::ffi::OsStr;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::aws_files::home_dir;
use crate::cli::{Cli, Completable, CompletionsArgs};
use crate::credentials::profile_names_in_files;
use crate::kubeconfig::{self, Kubeconfig};

/// The flags whose values the scripts ask `__complete` for, by clap argument id (also
/// the long flag's name).
const COMPLETED: [(&str, Completable); 2] = [
    ("profile", Completable::Profile),
    ("context", Completable::Context),
];

pub fn run(args: &CompletionsArgs) -> String {
    script(args.shell)
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    // clap_complete's bash script never reaches a subcommand's options when the name has
    // a hyphen (clap-rs/clap#6421): generated for `eks_token`, registered for eks-token.
    let name = if shell == Shell::Bash {
        BASH_NAME
    } else {
        "eks-token"
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), name, &mut out);
    let generated = String::from_utf8(out).expect("clap_complete writes UTF-8");
    match shell {
        Shell::Bash => {
            let generated = generated.replace(&format!(" {BASH_NAME}\n"), " eks-token\n");
            format!("{generated}\n{BASH}")
        }
        Shell::Zsh => {
            // Defined before the script's last lines call `_eks-token`.
            let edited = with_names(&generated, zsh_line).0;
            let at = edited.rfind(ZSH_CALL).unwrap_or(edited.len());
            format!("{}{ZSH}\n{}", &edited[..at], &edited[at..])
        }
        Shell::Fish => format!("{}\n{FISH}", with_names(&generated, fish_line).0),
        _ => generated,
    }
}

/// `__complete`: the names for `what`, one a line; nothing when the files are missing,
/// unreadable or broken (a completion never prints an error into the command line).
pub fn names(what: Completable) -> String {
    let names = match what {
        Completable::Profile => profile_names_in_files().unwrap_or_default(),
        Completable::Context => context_names(std::env::var_os("KUBECONFIG").as_deref()),
    };
    names.iter().map(|n| format!("{n}\n")).collect()
}

/// The contexts of the kubeconfig files kubectl reads (`KUBECONFIG`, else
/// `~/.kube/config`), merged as kubectl merges them; unreadable files are skipped.
fn context_names(env: Option<&OsStr>) -> Vec<String> {
    let Ok(paths) = kubeconfig::read_paths(None, env, home_dir().as_deref()) else {
        return Vec::new();
    };
    let files = paths
        .iter()
        .filter_map(|p| Kubeconfig::load(p).ok().flatten().map(|(k, _)| k))
        .collect();
    kubeconfig::merge(files).context_names()
}

/// A line of a generated script, the flag it must take (`profile`) and the `__complete`
/// argument for it (`profile`) → the line asking `__complete`, if it is that flag's.
type Edit = fn(&str, &str, &str) -> Option<String>;

/// `generated` with each line that takes a [`COMPLETED`] flag's value rewritten by
/// `edit` to ask `__complete`, and how many lines were.
fn with_names(generated: &str, edit: Edit) -> (String, usize) {
    let mut edited = 0;
    let mut out = String::with_capacity(generated.len() + 1024);
    for line in generated.lines() {
        let changed = COMPLETED
            .iter()
            .find_map(|(id, what)| edit(line, id, what.to_possible_value()?.get_name()));
        edited += usize::from(changed.is_some());
        out.push_str(changed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    (out, edited)
}

/// zsh: `'(conflicts)--profile=[help]:PROFILE:_default' \` (the conflicts optional) →
/// `…:PROFILE:_eks-token__names profile' \`.
fn zsh_line(line: &str, flag: &str, what: &str) -> Option<String> {
    let head = line.strip_suffix(":_default' \\")?;
    let spec = line.strip_prefix('\'')?;
    let spec = match spec.strip_prefix('(') {
        Some(conflicts) => &conflicts[conflicts.find(')')? + 1..],
        None => spec,
    };
    spec.starts_with(&format!("--{flag}=["))
        .then(|| format!("{head}:_eks-token__names {what}' \\"))
}

/// fish: `complete … -l profile -d '…' -r` gets `-f -a "(__fish_eks_token_names profile)"`.
fn fish_line(line: &str, flag: &str, what: &str) -> Option<String> {
    (line.starts_with("complete -c eks-token ")
        && line.contains(&format!(" -l {flag} "))
        && line.ends_with(" -r"))
    .then(|| format!("{line} -f -a \"(__fish_eks_token_names {what})\""))
}

/// The name clap_complete's bash script is generated for: its function is `_eks_token`.
const BASH_NAME: &str = "eks_token";

/// bash: in front of clap's `_eks_token`, the values of `--profile` and `--context`
/// (also `--profile=…`). bash splits words at `:` and `=` (COMP_WORDBREAKS), and context
/// names are often ARNs (`arn:aws:eks:…`), so the word is read from the command line
/// and the candidates trimmed to the part bash replaces, as bash-completion's
/// `__ltrim_colon_completions` does.
const BASH: &str = r#"# eks-token: profile and context names from `eks-token __complete`, which reads the
# AWS config files and the kubeconfig only.
_eks_token_names() {
    local line=${COMP_LINE:0:COMP_POINT} words word prev flag value name head eq i
    read -ra words <<< "$line"
    [[ $line == *[[:space:]] ]] && words+=("")
    word=${words[${#words[@]}-1]} prev=${words[${#words[@]}-2]}
    case $prev in
        --profile | --context) flag=${prev#--} value=$word ;;
        *) case $word in
            --profile=* | --context=*) flag=${word%%=*} flag=${flag#--} value=${word#*=} eq=1 ;;
            *) _eks_token "$@"; return ;;
        esac ;;
    esac
    COMPREPLY=()
    while IFS= read -r name; do
        [[ $name == "$value"* ]] && COMPREPLY+=("$name")
    done < <(eks-token __complete "$flag" 2>/dev/null)
    [[ -n $eq ]] && COMPREPLY=("${COMPREPLY[@]/#/--$flag=}")
    for ((i = ${#word} - 1; i >= 0; i--)); do
        [[ $COMP_WORDBREAKS == *"${word:i:1}"* ]] && { head=${word:0:i+1}; break; }
    done
    [[ -n $head ]] && COMPREPLY=("${COMPREPLY[@]#"$head"}")
    compopt +o default +o bashdefault 2>/dev/null
    return 0
}
complete -F _eks_token_names -o nosort -o bashdefault -o default eks-token
"#;

/// fish: the function the edited `complete` lines call.
const FISH: &str = r#"# eks-token: profile and context names from `eks-token __complete`, which reads the
# AWS config files and the kubeconfig only.
function __fish_eks_token_names
    for name in (eks-token __complete $argv[1] 2>/dev/null)
        printf '%s\t%s\n' $name $argv[1]
    end
end
"#;

/// Where clap's zsh script starts completing (autoloaded) or registers itself (sourced).
const ZSH_CALL: &str = "if [ \"$funcstack[1]\" = \"_eks-token\" ]; then";

/// zsh: the function the edited `_arguments` specs call, with `_arguments`' compadd
/// options first and the kind of name last.
const ZSH: &str = r#"(( $+functions[_eks-token__names] )) ||
_eks-token__names() {
    local -a names
    names=(${(f)"$(_call_program names eks-token __complete ${@[-1]} 2>/dev/null)"})
    compadd "${@[1,-2]}" -a names
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// How many commands in the tree take the argument `id`.
    fn taking(cmd: &clap::Command, id: &str) -> usize {
        usize::from(cmd.get_arguments().any(|a| a.get_id() == id))
            + cmd.get_subcommands().map(|s| taking(s, id)).sum::<usize>()
    }

    /// Every line clap_complete writes for `--profile` or `--context` is found: a
    /// change in its output format fails here, not silently in a shell.
    #[test]
    fn every_profile_and_context_flag_asks_for_names() {
        let cli = Cli::command();
        let wanted = taking(&cli, "profile") + taking(&cli, "context");
        assert!(wanted >= 6, "{wanted}");
        for (shell, edit) in [(Shell::Zsh, zsh_line as Edit), (Shell::Fish, fish_line)] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "eks-token", &mut out);
            let (script, edited) = with_names(&String::from_utf8(out).unwrap(), edit);
            assert_eq!(edited, wanted, "{shell}");
            assert_eq!(
                script.matches("names profile").count(),
                taking(&cli, "profile")
            );
            assert_eq!(
                script.matches("names context").count(),
                taking(&cli, "context")
            );
        }
        let bash = script(Shell::Bash);
        assert!(bash.starts_with("_eks_token() {"), "{bash}");
        assert!(bash.ends_with("-o default eks-token\n"), "{bash}");
        assert!(!bash.contains(&format!(" {BASH_NAME}\n")), "{bash}");
        let zsh = script(Shell::Zsh);
        assert!(zsh.find("_eks-token__names() {").unwrap() < zsh.rfind(ZSH_CALL).unwrap());
    }

    #[test]
    fn zsh_specs_with_and_without_conflicts() {
        assert_eq!(
            zsh_line(
                "'(--a -b)--context=[help]:NAME:_default' \\",
                "context",
                "ctx"
            )
            .as_deref(),
            Some("'(--a -b)--context=[help]:NAME:_eks-token__names ctx' \\")
        );
        assert!(zsh_line("'--contexts=[help]:NAME:_default' \\", "context", "c").is_none());
        assert!(zsh_line("'--context=[help]:NAME:_files' \\", "context", "c").is_none());
    }

    #[test]
    fn contexts_of_every_kubeconfig_file_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, contexts: &[&str]| {
            let mut text = String::from("apiVersion: v1\nkind: Config\ncontexts:\n");
            for c in contexts {
                text.push_str(&format!(
                    "- name: {c}\n  context: {{cluster: c, user: u}}\n"
                ));
            }
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let a = write(
            "a",
            &["arn:aws:eks:eu-west-1:123456789012:cluster/prod", "dev"],
        );
        let b = write("b", &["dev", "staging"]);
        let missing = dir.path().join("missing");
        let broken = dir.path().join("broken");
        std::fs::write(&broken, "contexts: [").unwrap();
        let env = std::env::join_paths([&a, &missing, &broken, &b]).unwrap();
        assert_eq!(
            context_names(Some(&env)),
            [
                "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
                "dev",
                "staging"
            ]
        );
    }
}
