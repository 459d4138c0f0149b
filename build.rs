//! Records what the binary is built from, for `--version` and `zoho_crm_exporter_build_info`: the
//! git revision and branch, the build time and the rustc version.
//!
//! Each can come from the environment, for builds without `.git` (a source tarball, a container
//! build): `ZCE_REVISION`, `ZCE_BRANCH`, and `SOURCE_DATE_EPOCH` (the reproducible-builds
//! convention) for the build time. Whatever neither the environment nor git tells is `unknown`.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let revision = given("ZCE_REVISION").or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    // A detached HEAD (a CI checkout of a commit) is on no branch.
    let branch = given("ZCE_BRANCH")
        .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD"));
    let built = given("SOURCE_DATE_EPOCH")
        .and_then(|epoch| epoch.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    // `rustc 1.85.0 (4d91de4e4 2025-02-17)`: the version is the second word.
    let rust_version = output(Command::new(rustc).arg("--version"))
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned));

    let unknown = || "unknown".to_owned();
    println!(
        "cargo:rustc-env=ZCE_REVISION={}",
        revision.unwrap_or_else(unknown)
    );
    println!(
        "cargo:rustc-env=ZCE_BRANCH={}",
        branch.unwrap_or_else(unknown)
    );
    println!("cargo:rustc-env=ZCE_BUILD_TIMESTAMP={built}");
    println!(
        "cargo:rustc-env=ZCE_RUST_VERSION={}",
        rust_version.unwrap_or_else(unknown)
    );
    for key in ["ZCE_REVISION", "ZCE_BRANCH", "SOURCE_DATE_EPOCH"] {
        println!("cargo:rerun-if-env-changed={key}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    // In a linked worktree `.git` is a file: ask git where HEAD and the branches are.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!(
            "cargo:rerun-if-changed={}",
            PathBuf::from(dir).join("HEAD").display()
        );
    }
    if let Some(dir) = git(&["rev-parse", "--git-common-dir"]) {
        let dir = PathBuf::from(dir);
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("refs/heads").display()
        );
        if dir.join("packed-refs").exists() {
            println!(
                "cargo:rerun-if-changed={}",
                dir.join("packed-refs").display()
            );
        }
    }
}

/// A non-empty environment variable.
fn given(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn git(args: &[&str]) -> Option<String> {
    output(Command::new("git").args(args))
}

/// The command's trimmed standard output when it succeeded with some.
fn output(command: &mut Command) -> Option<String> {
    command
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}
