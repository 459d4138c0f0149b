//! Zoho's data centers: where each one's accounts server and API domain live, and which API hosts
//! the exporter trusts with an access token.

use std::fmt;

/// A Zoho data center, as named in the config file (`data_center: eu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DataCenter {
    #[default]
    Us,
    Eu,
    In,
    Au,
    Jp,
    Ca,
    Sa,
    Cn,
    Uk,
}

impl DataCenter {
    pub(crate) const ALL: [DataCenter; 9] = [
        DataCenter::Us,
        DataCenter::Eu,
        DataCenter::In,
        DataCenter::Au,
        DataCenter::Jp,
        DataCenter::Ca,
        DataCenter::Sa,
        DataCenter::Cn,
        DataCenter::Uk,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            DataCenter::Us => "us",
            DataCenter::Eu => "eu",
            DataCenter::In => "in",
            DataCenter::Au => "au",
            DataCenter::Jp => "jp",
            DataCenter::Ca => "ca",
            DataCenter::Sa => "sa",
            DataCenter::Cn => "cn",
            DataCenter::Uk => "uk",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<DataCenter> {
        Self::ALL.into_iter().find(|dc| dc.name() == name)
    }

    /// Top-level domain shared by the accounts server and the API domain (Canada's accounts
    /// server is the exception, see [`DataCenter::accounts_url`]).
    fn tld(self) -> &'static str {
        match self {
            DataCenter::Us => "com",
            DataCenter::Eu => "eu",
            DataCenter::In => "in",
            DataCenter::Au => "com.au",
            DataCenter::Jp => "jp",
            DataCenter::Ca => "ca",
            DataCenter::Sa => "sa",
            DataCenter::Cn => "com.cn",
            DataCenter::Uk => "uk",
        }
    }

    pub(crate) fn accounts_url(self) -> String {
        match self {
            // Canada's accounts server lives on zohocloud.ca, not zoho.ca.
            DataCenter::Ca => "https://accounts.zohocloud.ca".to_owned(),
            dc => format!("https://accounts.zoho.{}", dc.tld()),
        }
    }

    pub(crate) fn api_domain(self) -> String {
        format!("https://www.zohoapis.{}", self.tld())
    }
}

impl fmt::Display for DataCenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `url` is a Zoho API domain the exporter may send an access token to: `https://`, no
/// user info, no path beyond `/`, and a host `www.`, `sandbox.` or `developer.` + `zohoapis.` +
/// one of the data centers' domains. A token answer whose `api_domain` fails this is refused, so
/// a tampered answer cannot redirect the token elsewhere.
pub(crate) fn is_trusted_api_domain(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.contains(['/', '@', ':', '?', '#']) {
        return false;
    }
    let host = host.to_ascii_lowercase();
    ["www.", "sandbox.", "developer."].iter().any(|prefix| {
        DataCenter::ALL
            .iter()
            .any(|dc| host == format!("{prefix}zohoapis.{}", dc.tld()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_center_table_matches_zoho() {
        let table = [
            (
                "us",
                "https://accounts.zoho.com",
                "https://www.zohoapis.com",
            ),
            ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
            ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
            (
                "au",
                "https://accounts.zoho.com.au",
                "https://www.zohoapis.com.au",
            ),
            ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
            (
                "ca",
                "https://accounts.zohocloud.ca",
                "https://www.zohoapis.ca",
            ),
            ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
            (
                "cn",
                "https://accounts.zoho.com.cn",
                "https://www.zohoapis.com.cn",
            ),
            ("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
        ];
        for (name, accounts, api) in table {
            let dc = DataCenter::parse(name).unwrap();
            assert_eq!(dc.accounts_url(), accounts);
            assert_eq!(dc.api_domain(), api);
            assert!(is_trusted_api_domain(&dc.api_domain()));
        }
        assert_eq!(DataCenter::parse("de"), None);
    }

    #[test]
    fn only_zoho_https_hosts_are_trusted() {
        for good in [
            "https://www.zohoapis.com",
            "https://www.zohoapis.eu/",
            "https://sandbox.zohoapis.com",
            "https://developer.zohoapis.in",
        ] {
            assert!(is_trusted_api_domain(good), "{good}");
        }
        for bad in [
            "http://www.zohoapis.com",
            "https://www.zohoapis.com.evil.example",
            "https://evil.example/www.zohoapis.com",
            "https://www.zohoapis.com@evil.example",
            "https://www.zohoapis.com:8443",
            "https://zohoapis.com.attacker.net",
            "https://127.0.0.1",
            "",
        ] {
            assert!(!is_trusted_api_domain(bad), "{bad}");
        }
    }
}
