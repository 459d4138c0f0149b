//! Writing one metric family from rows of (labels, value): the one way every family of the
//! exporter is encoded, live or pre-encoded.

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::registry::Unit;

/// Writes one metric family from a list of (labels, value) rows; a family with no rows is left
/// out entirely, so a metric that does not apply yet shows no header either.
pub(crate) fn encode_rows<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl IntoIterator<Item = (L, M)>,
) -> std::fmt::Result {
    let mut rows = rows.into_iter().peekable();
    let Some((_, first)) = rows.peek() else {
        return Ok(());
    };
    let mut family = encoder.encode_descriptor(name, help, unit, first.metric_type())?;
    for (labels, metric) in rows {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
