//! `--shard` and `--total-shards`, as kube-state-metrics names them: which shard this process
//! is, given as a number or as `auto`, taken from the trailing `-<ordinal>` of the hostname the
//! way a StatefulSet names its pods (`exporter-0`, `exporter-1`, ...).

use crate::config::shard::Shard;

/// The value of `--shard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShardFlag {
    Ordinal(u64),
    /// From the hostname's trailing `-<ordinal>`.
    Auto,
}

/// Parses `--shard`: a number or `auto`.
pub(crate) fn parse_shard_flag(text: &str) -> Result<ShardFlag, String> {
    if text == "auto" {
        return Ok(ShardFlag::Auto);
    }
    text.parse()
        .map(ShardFlag::Ordinal)
        .map_err(|_| format!("{text:?} is neither a shard number (0, 1, ...) nor auto"))
}

/// The shard the flags name; `hostname` is asked only for `--shard auto`. Errors name the flag
/// and the value.
pub(crate) fn shard_from_flags(
    flag: ShardFlag,
    total: u64,
    hostname: impl FnOnce() -> Option<String>,
) -> Result<Shard, String> {
    let ordinal = match flag {
        ShardFlag::Ordinal(n) => n,
        ShardFlag::Auto => {
            let name = hostname().ok_or(
                "--shard auto: cannot read the hostname (neither /proc/sys/kernel/hostname nor HOSTNAME)",
            )?;
            ordinal_from_hostname(&name)?
        }
    };
    Shard::new(ordinal, total)
}

/// The ordinal at the end of a StatefulSet pod's hostname: `exporter-3` is 3. Only the first
/// label counts (`exporter-3.exporter.monitoring.svc` is 3 as well).
pub(crate) fn ordinal_from_hostname(hostname: &str) -> Result<u64, String> {
    let name = hostname.trim().split('.').next().unwrap_or_default();
    name.rsplit_once('-')
        .map(|(_, ordinal)| ordinal)
        .filter(|ordinal| !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|ordinal| ordinal.parse().ok())
        .ok_or_else(|| {
            format!(
                "--shard auto: hostname {hostname:?} does not end in -<ordinal> as a StatefulSet's pods do (name-0, name-1, ...)"
            )
        })
}

/// This host's name. The kernel's, from `/proc/sys/kernel/hostname` (Linux, where Kubernetes
/// sets it to the pod's name): no new dependency and no `unsafe` call to `gethostname`. Where
/// that file is absent (other systems), the `HOSTNAME` variable that shells and container
/// runtimes set.
pub(crate) fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ordinal_comes_from_a_statefulset_pod_name() {
        assert_eq!(ordinal_from_hostname("zoho-cadences-exporter-0"), Ok(0));
        assert_eq!(ordinal_from_hostname("exporter-12\n"), Ok(12));
        assert_eq!(ordinal_from_hostname("exporter-3.exporter.mon.svc"), Ok(3));
        for bad in [
            "exporter",
            "exporter-",
            "exporter-a1",
            "exporter-+1",
            "",
            "7",
        ] {
            let err = ordinal_from_hostname(bad).unwrap_err();
            assert!(err.starts_with("--shard auto: hostname"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn the_flags_make_a_shard() {
        let no_host = || -> Option<String> { panic!("the hostname is read only for auto") };
        assert_eq!(
            shard_from_flags(ShardFlag::Ordinal(1), 2, no_host),
            Shard::new(1, 2)
        );
        let pod = || Some("exporter-2".to_owned());
        assert_eq!(shard_from_flags(ShardFlag::Auto, 3, pod), Shard::new(2, 3));
        let err = shard_from_flags(ShardFlag::Auto, 2, pod).unwrap_err();
        assert!(err.starts_with("--shard: 2 is out of range"), "{err}");
        let err = shard_from_flags(ShardFlag::Auto, 2, || None).unwrap_err();
        assert!(err.contains("cannot read the hostname"), "{err}");
        assert_eq!(parse_shard_flag("auto"), Ok(ShardFlag::Auto));
        assert_eq!(parse_shard_flag("4"), Ok(ShardFlag::Ordinal(4)));
        assert!(parse_shard_flag("-1").unwrap_err().contains("\"-1\""));
    }
}
