//! The deployment files: the Dockerfile runs as a non-root user with a
//! health check, the systemd unit is hardened (and verified where
//! systemd-analyze exists), and the example configuration loads.

use std::path::PathBuf;
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_dockerfile_runs_unprivileged_with_a_health_check() {
    let text = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let user = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("a USER instruction");
    assert!(!["root", "0"].contains(&user.trim()), "runs as {user}");
    assert!(text
        .lines()
        .any(|l| l.starts_with("HEALTHCHECK") && l.contains("--interval")));
    assert!(text.contains("/healthz"));
    assert!(text.matches("FROM ").count() >= 2, "multi-stage");
    assert!(text.contains("VOLUME"));
}

#[test]
fn the_systemd_unit_is_hardened() {
    let path = repo("deploy/regain.service");
    let text = std::fs::read_to_string(&path).unwrap();
    for directive in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=regain",
    ] {
        assert!(text.contains(directive), "{directive}");
    }
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_ok_and(|o| o.status.success()) {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The binary is not installed on the test machine; anything else is a finding.
        let findings: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.contains("/usr/local/bin/regain") && !l.trim().is_empty())
            .collect();
        assert!(findings.is_empty(), "{findings:?}");
    } else {
        eprintln!("systemd-analyze is not installed; the unit was only checked for its directives");
    }
}

#[test]
fn the_example_configuration_loads_and_covers_every_setting() {
    let path = repo("deploy/regain.example.toml");
    let config =
        regain_app::config::Config::load(Some(&path), |_| None).expect("the example loads");
    assert_eq!(
        config,
        regain_app::config::Config::default(),
        "the example shows the defaults"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let defaults = serde_json::to_value(regain_app::config::Config::default()).unwrap();
    for key in defaults.as_object().unwrap().keys() {
        assert!(
            text.contains(key.as_str()),
            "{key} is documented in the example"
        );
    }
}

/// `cargo install --path .` installs what the root manifest's package
/// builds: it must be the `regain` binary.
#[test]
fn cargo_install_from_the_root_builds_the_regain_binary() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = repo("Cargo.toml").canonicalize().unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| std::path::Path::new(p["manifest_path"].as_str().unwrap()) == root)
        .expect("the root manifest is a package, not only a workspace");
    let bins: Vec<&str> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"][0] == "bin")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(bins, ["regain"]);
}

/// The README's configuration table and the variables the service reads
/// are the same set: a documented variable that does nothing is a trap.
#[test]
fn every_documented_variable_is_read_and_every_read_one_documented() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let mut documented: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| "))
        .filter_map(|l| l.split('|').nth(2))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .filter(|var| var.starts_with("REGAIN_"))
        .collect();
    let mut read: Vec<&str> = regain_app::config::ENV_OVERRIDES
        .iter()
        .map(|(var, _)| *var)
        .collect();
    for special in ["REGAIN_CONFIG", "REGAIN_LOG"] {
        if !read.contains(&special) {
            read.push(special);
        }
    }
    documented.sort_unstable();
    documented.dedup();
    read.sort_unstable();
    let missing: Vec<_> = read.iter().filter(|v| !documented.contains(v)).collect();
    let dead: Vec<_> = documented.iter().filter(|v| !read.contains(v)).collect();
    assert!(
        missing.is_empty() && dead.is_empty(),
        "undocumented: {missing:?}; documented but not read: {dead:?}"
    );
}
