//! A string that must never be shown: OAuth client secrets, refresh tokens and access tokens.
//!
//! `Debug` and `Display` print a fixed placeholder, so a secret that ends up in a log line, an
//! error message, a panic or a `{:?}` of a config struct shows nothing. The only way to the value
//! is [`Secret::expose`], which the OAuth client calls when it builds a request.

use std::fmt;

/// What every redacted secret prints as.
pub(crate) const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Box<str>);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret value itself. Call only where it goes onto the wire.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("1000.supersecret");
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&secret)), format!("Some({REDACTED})"));
        assert_eq!(secret.expose(), "1000.supersecret");
    }
}
