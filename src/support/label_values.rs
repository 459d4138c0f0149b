//! Bounds on label values whose text Zoho chooses (error codes, modules, cadence statuses): what
//! such a value may look like, how many one org's label may take, and the value the rest share.
//!
//! Here, below every layer, because three layers apply the same bounds: `domain` to the statuses
//! of a snapshot, `metrics` to the counters it keeps, `zoho` to the codes of its answers.

/// How many distinct values one org's `error`, `status_code`, `module` or cadence `status` label
/// may take before further ones are counted under [`OVERFLOW_LABEL`]: Zoho's codes are free text,
/// and no map may grow without bound.
pub(crate) const MAX_LABEL_VALUES: usize = 64;

/// The label value of everything beyond [`MAX_LABEL_VALUES`], and of a value that is not
/// [`is_label_safe`].
pub(crate) const OVERFLOW_LABEL: &str = "other";

/// Whether a text from Zoho may become a label value as sent: short and plain.
pub(crate) fn is_label_safe(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '-' | '.'))
}
