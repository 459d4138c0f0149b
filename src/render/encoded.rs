//! The cadence part of `/metrics`: each org's part encoded once per change of that org, and the
//! parts of every org joined once per change of any, for the scrapes.
//!
//! The cadence metrics change only when a collection or a side pass of an org finishes, and at
//! 10,000 cadences they are most of the body. So [`OrgCadences::encode`] writes one org's
//! families in both formats (OpenMetrics 1.0.0 and Prometheus text 0.0.4) with
//! prometheus-client's own encoders, a deflate segment per family (`render::parts`); an org's
//! collection encodes that org only, whatever the number of other orgs. A scrape of every org
//! sends [`Joined`]: the orgs' segments joined family by family into one buffer, made by the
//! first scrape after a change and shared, never copied, by every scrape until the next one. A
//! scrape of some orgs joins theirs ([`join_some`]).

use crate::render::families::{families, OrgView};
use crate::render::gzip::{BodyPart, Deflated};
use crate::render::negotiate::Format;
use crate::render::parts::{encode_part, join, join_deflated, Headers, OrgPart};
use crate::render::plain::PlainPart;
use std::sync::Arc;

/// One org's cadence part, in both formats.
#[derive(Debug, Default)]
pub(crate) struct OrgCadences {
    openmetrics: OrgPart,
    text: OrgPart,
}

impl OrgCadences {
    pub(crate) fn encode(org: OrgView, per_cadence_metrics: bool, headers: &Headers) -> Self {
        let org: Arc<[OrgView]> = Arc::from([org]);
        let families = families(per_cadence_metrics);
        // Only the deflate segments are kept: at 1,000 orgs of 100 cadences the plain text of
        // every org would be 120 MB, and Prometheus asks for gzip.
        let part = |format| encode_part(families, &org, format, false, headers);
        let openmetrics = part(Format::OpenMetrics);
        let mut text = part(Format::Text);
        text.share_rows_with(&openmetrics);
        let encoded = OrgCadences { openmetrics, text };
        crate::support::malloc::release_freed();
        encoded
    }

    pub(crate) fn part(&self, format: Format) -> &OrgPart {
        match format {
            Format::OpenMetrics => &self.openmetrics,
            Format::Text => &self.text,
        }
    }
}

/// The cadence part of every org in one format, joined: its deflate segments in one buffer,
/// and the plain text inflated from them on demand.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    deflated: Deflated,
    plain: PlainPart,
}

impl Joined {
    /// Joins the parts of `orgs`, in their order.
    pub(crate) fn new(orgs: &[Arc<OrgCadences>], format: Format) -> Joined {
        let parts: Vec<&OrgPart> = orgs.iter().map(|org| org.part(format)).collect();
        let deflated = join_deflated(&parts);
        Joined {
            plain: PlainPart::new(deflated.clone()),
            deflated,
        }
    }

    /// The part, shared with the scrapes in flight.
    pub(crate) fn part(&self, gzipped: bool) -> BodyPart {
        if gzipped {
            BodyPart::Deflated(self.deflated.clone())
        } else {
            BodyPart::Plain(self.plain.bytes())
        }
    }

    /// The plain part, for the tests of its memory behaviour.
    #[cfg(test)]
    pub(crate) fn plain_part(&self) -> &PlainPart {
        &self.plain
    }
}

/// The cadence part of the orgs of `orgs`, in their order, for a scrape of those orgs only.
pub(crate) fn join_some(orgs: &[Arc<OrgCadences>], format: Format, gzipped: bool) -> BodyPart {
    let parts: Vec<&OrgPart> = orgs.iter().map(|org| org.part(format)).collect();
    join(&parts, gzipped)
}
