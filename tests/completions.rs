//! `eks-token completions`: each script loads in its shell without a word on stderr, and
//! completes as a person sees it — subcommands and flags, and the profile names of the
//! AWS config files and the context names of the kubeconfig, read from those files only
//! (no credential source runs, nothing is called). bash through a scripted
//! `COMP_LINE`/`COMP_WORDS` harness, zsh through a pseudo-terminal (`zsh/zpty`), fish
//! through `complete -C`.

mod support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{Sandbox, path_with_eks_token};

/// Calls the completion function bash would call for `COMP_LINE` (the cursor at its
/// end) and prints `COMPREPLY`, one a line. Words split at blanks, as readline does for
/// lines without `=` or `:` (the script reads `COMP_LINE` itself for the others).
const BASH_HARNESS: &str = r#"
source "$1" || exit 9
COMP_LINE=$2 COMP_POINT=${#2}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *[[:space:]] ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
spec=$(complete -p eks-token) || exit 8
fn=${spec##*-F } fn=${fn%% *}
"$fn" eks-token "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// Types `$2` and Tab into an interactive zsh whose `fpath` starts with `$1`, and prints
/// each candidate compadd was given; reads for at most 10 s.
const ZSH_HARNESS: &str = r#"
zmodload zsh/zpty || exit 9
zpty z zsh -f -i
zpty -w z "PROMPT=; RPROMPT=; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -d \$HOME/.zcompdump"
zpty -w z 'compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a hits; builtin compadd -A hits "$@"; print -rl -- "<h""it>"${^hits}; }'
zpty -w z 'finish() { print -r -- "<do""ne>"; exit }; zle -N finish; bindkey "^X" finish; bindkey "^I" complete-word'
zpty -n -w z "$2"$'\t'
zpty -n -w z $'\C-x'
local line
for i in {1..500}; do
  if zpty -r -t z line; then
    [[ $line == *'<done>'* ]] && break
    [[ $line == *'<hit>'* ]] && print -r -- ${${line##*<hit>}%%[$'\r\n']*}
  else
    sleep 0.02
  fi
done
zpty -d z
"#;

/// A HOME with three profiles in ~/.aws/config (and an sso-session, not a profile), one
/// in ~/.aws/credentials, and a kubeconfig with an ARN-named context, eks-token on PATH.
fn sandbox() -> Sandbox {
    let mut s = Sandbox::new();
    s.write(
        ".aws/config",
        "[default]\nregion = eu-west-1\n\n[profile prod-admin]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\n[profile dev]\nregion = eu-central-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
    );
    s.write(
        ".aws/credentials",
        "[ci]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n",
    );
    s.write(".kube/config", &kubeconfig(&[ARN_CONTEXT, "dev"]));
    s.env("PATH", path_with_eks_token());
    s
}

const ARN_CONTEXT: &str = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";

fn kubeconfig(contexts: &[&str]) -> String {
    let mut text = String::from("apiVersion: v1\nkind: Config\ncontexts:\n");
    for c in contexts {
        text.push_str(&format!(
            "- name: {c}\n  context: {{cluster: c, user: u}}\n"
        ));
    }
    text
}

/// The script `eks-token completions SHELL` prints, written under HOME as `file`.
fn script(s: &Sandbox, shell: &str, file: &str) -> PathBuf {
    let run = s.run(&["completions", shell]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    s.write(file, &run.stdout)
}

fn output(s: &Sandbox, program: &str, args: &[&str]) -> Output {
    s.command_of(program, args).output().unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "status {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect()
}

fn bash_complete(s: &Sandbox, script: &Path, line: &str) -> Vec<String> {
    let out = output(
        s,
        "bash",
        &[
            "--norc",
            "--noprofile",
            "-c",
            BASH_HARNESS,
            "harness",
            script.to_str().unwrap(),
            line,
        ],
    );
    lines(&out)
}

#[test]
fn each_script_loads_in_its_shell_without_errors() {
    let s = sandbox();
    let bash = script(&s, "bash", "bash/eks-token");
    let out = output(
        &s,
        "bash",
        &[
            "--norc",
            "--noprofile",
            "-c",
            &format!("source {} && complete -p eks-token", bash.display()),
        ],
    );
    assert_eq!(
        lines(&out),
        ["complete -o bashdefault -o default -o nosort -F _eks_token_names eks-token"]
    );

    // zsh: autoloaded from fpath (how it is installed), and sourced after compinit.
    let zsh = script(&s, "zsh", "zsh/_eks-token");
    let dir = zsh.parent().unwrap().display();
    let init = "autoload -U compinit; compinit -u -d $HOME/.zcompdump";
    for load in [
        format!("fpath=({dir} $fpath); {init}; autoload +X _eks-token"),
        format!("{init}; source {}", zsh.display()),
    ] {
        let out = output(
            &s,
            "zsh",
            &[
                "-f",
                "-c",
                &format!("{load} && print -r -- $_comps[eks-token]"),
            ],
        );
        assert_eq!(lines(&out), ["_eks-token"], "{load}");
    }

    let fish = script(&s, "fish", "fish/eks-token.fish");
    let out = output(
        &s,
        "fish",
        &[
            "--no-config",
            "-c",
            &format!(
                "source {} && functions -q __fish_eks_token_names && complete -c eks-token | count",
                fish.display()
            ),
        ],
    );
    let count: usize = lines(&out)[0].parse().unwrap();
    assert!(count > 100, "{count} completions registered");
}

#[test]
fn bash_completes_profiles_contexts_subcommands_and_flags() {
    let mut s = sandbox();
    let bash = script(&s, "bash", "eks-token.bash");
    let all = ["ci", "default", "dev", "prod-admin"];
    assert_eq!(bash_complete(&s, &bash, "eks-token token --profile "), all);
    assert_eq!(
        bash_complete(&s, &bash, "eks-token whoami --profile pr"),
        ["prod-admin"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token login --profile d"),
        ["default", "dev"]
    );
    // bash replaces only what follows the last `=` or `:` of the word.
    assert_eq!(
        bash_complete(&s, &bash, "eks-token token --profile=d"),
        ["default", "dev"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token doctor --context "),
        [ARN_CONTEXT, "dev"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token doctor --context arn:aws:eks:eu"),
        ["eu-west-1:123456789012:cluster/prod"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token doctor --context=arn:aws:e"),
        ["eks:eu-west-1:123456789012:cluster/prod"]
    );
    // clap_complete's own completion, past the subcommand (clap-rs/clap#6421).
    assert_eq!(bash_complete(&s, &bash, "eks-token whoa"), ["whoami"]);
    assert_eq!(
        bash_complete(&s, &bash, "eks-token token --reg"),
        ["--region"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token kubeconfig mig"),
        ["migrate"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token cache clear --cluster-"),
        ["--cluster-name", "--cluster-id"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token oidc --grant-type "),
        ["auto", "authcode", "authcode-keyboard", "device-code"]
    );

    // The files the SDK would read: AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, KUBECONFIG.
    let config = s.write("elsewhere/config", "[profile other]\nregion = us-east-1\n");
    let credentials = s.write(
        "elsewhere/credentials",
        "[other-keys]\naws_access_key_id = A\n",
    );
    let first = s.write("elsewhere/kube-a", &kubeconfig(&["staging", "dev"]));
    let second = s.write("elsewhere/kube-b", &kubeconfig(&["dev", "qa"]));
    s.env("AWS_CONFIG_FILE", config.display().to_string())
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.display().to_string(),
        )
        .env(
            "KUBECONFIG",
            format!("{}:{}", first.display(), second.display()),
        );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token token --profile "),
        ["other", "other-keys"]
    );
    assert_eq!(
        bash_complete(&s, &bash, "eks-token doctor --context "),
        ["staging", "dev", "qa"]
    );
}

/// Completing reads names and nothing more: a profile's `credential_process` does not
/// run, and neither AWS nor the instance metadata service is called.
#[test]
fn names_come_from_the_files_only() {
    let mut s = sandbox();
    let marker = s.path("credential_process-ran");
    s.write(
        ".aws/config",
        &format!(
            "[profile proc]\ncredential_process = touch {}\n",
            marker.display()
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    s.env("AWS_PROFILE", "proc")
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)
        .env("AWS_EC2_METADATA_DISABLED", "false");
    let run = s.run(&["__complete", "profile"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "ci\nproc\n", "")
    );
    assert!(!marker.exists());
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("something connected: {other:?}"),
    }
    // A broken config is no names, not an error typed into the command line.
    s.write(".aws/config", "[profile broken\n");
    let run = s.run(&["__complete", "profile"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
}

#[test]
fn fish_completes_profiles_and_contexts() {
    let s = sandbox();
    let fish = script(&s, "fish", "eks-token.fish");
    let complete = |line: &str| {
        let command = format!("source {} && complete -C '{line}'", fish.display());
        lines(&output(&s, "fish", &["--no-config", "-c", &command]))
    };
    assert_eq!(
        complete("eks-token token --profile "),
        ["ci", "default", "dev", "prod-admin"]
    );
    assert_eq!(
        complete("eks-token kubeconfig --profile pr"),
        ["prod-admin"]
    );
    assert_eq!(complete("eks-token doctor --context=d"), ["--context=dev"]);
    assert_eq!(
        complete("eks-token doctor --context "),
        [ARN_CONTEXT, "dev"]
    );
    assert_eq!(complete("eks-token token --reg"), ["--region"]);
}

#[test]
fn zsh_completes_profiles_and_contexts() {
    let s = sandbox();
    let zsh = script(&s, "zsh", "zsh/_eks-token");
    let dir = zsh.parent().unwrap().to_str().unwrap().to_owned();
    let complete = |line: &str| {
        lines(&output(
            &s,
            "zsh",
            &["-f", "-c", ZSH_HARNESS, "harness", &dir, line],
        ))
    };
    assert_eq!(
        complete("eks-token token --profile "),
        ["ci", "default", "dev", "prod-admin"]
    );
    assert_eq!(complete("eks-token whoami --profile=d"), ["default", "dev"]);
    assert_eq!(
        complete("eks-token doctor --context "),
        [ARN_CONTEXT, "dev"]
    );
    assert_eq!(
        complete("eks-token doctor --context arn:aws:eks:"),
        [ARN_CONTEXT]
    );
    assert_eq!(complete("eks-token token --reg"), ["--region"]);
}
