//! `--once`: collect every org once, with one pass of each side loop it runs, print the text
//! exposition and tell whether everything succeeded.

use crate::app::org::Org;
use crate::config::Config;
use crate::render::negotiate::Format;
use crate::store::SharedState;
use crate::zoho::client::Limits;
use std::future::Future;

/// Collects every org once, concurrently, and returns the text exposition and whether every
/// collection and pass succeeded.
pub(crate) async fn collect_once(config: &Config) -> (String, bool) {
    let state = SharedState::new(config);
    let orgs = Org::wire_all(config, &state, Limits::default());
    let results = join_all(orgs.into_iter().map(|org| async move { org.once().await })).await;
    let body = state.scrape_body(Format::Text, false);
    (
        String::from_utf8(body).expect("the exposition is UTF-8"),
        results.iter().all(|ok| *ok),
    )
}

/// Runs the futures as tasks, concurrently, and tells for each whether it succeeded.
async fn join_all<E, F>(futures: impl Iterator<Item = F>) -> Vec<bool>
where
    E: Send + 'static,
    F: Future<Output = Result<(), E>> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(matches!(handle.await, Ok(Ok(()))));
    }
    results
}
