//! Sharding: which orgs this process collects when `--total-shards` processes share one config.
//!
//! An org belongs to shard `fnv1a64(name) mod total` ([`crate::support::hash::fnv1a64`], over
//! the UTF-8 bytes of its name): stable across releases and platforms, so every shard, however
//! built, agrees on who collects which org, and an org moves only when the number of shards
//! changes. The config file is the same for every shard; each keeps its own orgs of it, at start
//! and at every reload.

use crate::config::Config;
use crate::support::hash::fnv1a64;

/// This process's shard: its ordinal and the number of shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    ordinal: u64,
    total: u64,
}

impl Default for Shard {
    /// One shard holding every org: no sharding.
    fn default() -> Self {
        Shard {
            ordinal: 0,
            total: 1,
        }
    }
}

impl Shard {
    /// Shard `ordinal` of `total`; the error names the flag and the value.
    pub fn new(ordinal: u64, total: u64) -> Result<Shard, String> {
        if total == 0 {
            return Err("--total-shards: 0 is not allowed; it must be at least 1".to_owned());
        }
        if ordinal >= total {
            return Err(format!(
                "--shard: {ordinal} is out of range for --total-shards {total}; it must be below {total}"
            ));
        }
        Ok(Shard { ordinal, total })
    }

    pub(crate) fn ordinal(self) -> u64 {
        self.ordinal
    }

    pub(crate) fn total(self) -> u64 {
        self.total
    }

    /// Whether the org named `org` belongs to this shard.
    pub(crate) fn owns(self, org: &str) -> bool {
        fnv1a64(org) % self.total == self.ordinal
    }

    /// `config` with only this shard's orgs. Expectations stay as they are: one naming an org
    /// of another shard matches nothing here. The result may hold no org at all: such a shard
    /// still starts, is ready and serves its own metrics.
    pub(crate) fn filter(self, mut config: Config) -> Config {
        config.orgs.retain(|org| self.owns(&org.name));
        config
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;
    use crate::config::Config;

    #[test]
    fn bad_shards_are_refused_naming_the_flag() {
        assert_eq!(
            Shard::new(0, 0).unwrap_err(),
            "--total-shards: 0 is not allowed; it must be at least 1"
        );
        assert_eq!(
            Shard::new(2, 2).unwrap_err(),
            "--shard: 2 is out of range for --total-shards 2; it must be below 2"
        );
        assert_eq!(
            Shard::new(1, 2).unwrap(),
            Shard {
                ordinal: 1,
                total: 2
            }
        );
    }

    /// fnv1a64: acme 0x0724d383f4f6de0f (odd), globex 0x7fc12157b54bb22e (even).
    #[test]
    fn each_org_is_in_exactly_one_shard() {
        let names: Vec<String> = (0..50).map(|n| format!("org-{n}")).collect();
        let yaml: String = names
            .iter()
            .map(|n| {
                format!("  - {{name: {n}, client_id: i, client_secret: s, refresh_token: r}}\n")
            })
            .collect();
        let config = Config::parse(&format!("orgs:\n{yaml}")).unwrap();
        let mut seen: Vec<String> = Vec::new();
        for ordinal in 0..3 {
            let shard = Shard::new(ordinal, 3).unwrap();
            let kept = shard.filter(config.clone());
            assert!(
                !kept.orgs.is_empty(),
                "shard {ordinal} of 3 holds some of 50 orgs"
            );
            seen.extend(kept.orgs.iter().map(|o| o.name.clone()));
        }
        seen.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(seen, expected);
        assert!(Shard::new(1, 2).unwrap().owns("acme"));
        assert!(Shard::new(0, 2).unwrap().owns("globex"));
        assert_eq!(Shard::default().filter(config.clone()), config);
    }
}
