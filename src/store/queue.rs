//! The encoding queue: requests to re-encode the cadence part, served one encoding at a time
//! and coalesced, so that orgs finishing their collections together share one encoding.

use crate::store::SharedState;

/// Requests to re-encode the cadence part, numbered in order.
#[derive(Debug, Default)]
pub(super) struct EncodingQueue {
    /// The number of the latest request.
    pub(super) requested: u64,
    /// Every request up to this number is in the published encoding.
    pub(super) encoded: u64,
    /// Some thread is encoding now.
    pub(super) running: bool,
    /// Encodings run so far (what the coalescing test counts).
    pub(super) runs: u64,
}

impl SharedState {
    /// Re-encodes the cadence part after a change of state, and returns once an encoding that
    /// includes the change is published.
    ///
    /// One encoding runs at a time, and requests that arrive meanwhile are served together by
    /// its next round: when many orgs finish their collections at about the same time (they
    /// start together), the cadence part of all orgs is encoded a few times, not once per org.
    /// Waiting is asynchronous, so that the runtime's workers go on finishing the collections
    /// whose requests the next round serves. A request is numbered after its change is stored,
    /// and a round reads the state after taking the latest number, so it covers every request
    /// up to that number.
    pub(super) async fn reencode(&self) {
        let mut finished = self.inner.encoded_signal.subscribe();
        let (mine, encoder) = self.request_encoding();
        if encoder {
            self.encode_requests();
            return;
        }
        loop {
            {
                let mut queue = self.inner.encoding.lock().expect("encoding lock");
                if queue.encoded >= mine {
                    return;
                }
                if !queue.running {
                    // The encoder stopped without covering this request (it panicked).
                    queue.running = true;
                    drop(queue);
                    self.encode_requests();
                    return;
                }
            }
            let _ = finished.changed().await;
        }
    }

    /// Re-encodes without waiting, for changes made outside the runtime (construction,
    /// reloads): encodes now unless an encoding is under way, whose next round covers this.
    pub(super) fn reencode_soon(&self) {
        if let (_, true) = self.request_encoding() {
            self.encode_requests();
        }
    }

    /// Numbers a request; true when no encoding is under way and the caller must encode.
    fn request_encoding(&self) -> (u64, bool) {
        let mut queue = self.inner.encoding.lock().expect("encoding lock");
        queue.requested += 1;
        let encoder = !std::mem::replace(&mut queue.running, true);
        (queue.requested, encoder)
    }

    /// Encodes in rounds until no request is left uncovered, then frees the queue.
    fn encode_requests(&self) {
        loop {
            let covers = self.inner.encoding.lock().expect("encoding lock").requested;
            let unwinding = ServeOnPanic {
                state: self,
                covers,
            };
            self.encode_now();
            std::mem::forget(unwinding);
            let done = {
                let mut queue = self.inner.encoding.lock().expect("encoding lock");
                queue.encoded = covers;
                queue.runs += 1;
                let done = queue.requested == covers;
                queue.running = !done;
                done
            };
            self.inner.encoded_signal.send_replace(());
            if done {
                return;
            }
        }
    }
}

/// Should an encoding panic, its requests count as served (the previous encoding stays), the
/// queue is freed and waiting publishers are woken: a later change encodes again, and nothing
/// waits forever.
struct ServeOnPanic<'a> {
    state: &'a SharedState,
    covers: u64,
}

impl Drop for ServeOnPanic<'_> {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.state.inner.encoding.lock() {
            queue.encoded = queue.encoded.max(self.covers);
            queue.running = false;
        }
        self.state.inner.encoded_signal.send_replace(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::cadence::Cadence;
    use crate::domain::snapshot::OrgSnapshot;
    use crate::render::negotiate::Format;
    use std::sync::Arc;
    use std::time::SystemTime;

    #[tokio::test]
    async fn requests_made_during_an_encoding_are_served_by_one_encoding() {
        const ORGS: usize = 8;
        let mut yaml = String::from("orgs:\n");
        for n in 0..ORGS {
            yaml.push_str(&format!(
                "  - name: org{n}\n    client_id: c\n    client_secret: s\n    refresh_token: r\n"
            ));
        }
        let state = SharedState::new(&Config::parse(&yaml).unwrap());
        let (runs_before, requested_before) = {
            let mut queue = state.inner.encoding.lock().unwrap();
            queue.running = true; // as if an encoding were under way
            (queue.runs, queue.requested)
        };
        let publishers: Vec<_> = (0..ORGS)
            .map(|n| {
                let state = state.clone();
                tokio::spawn(async move {
                    let cadence = Cadence {
                        id: n.to_string().into(),
                        ..Cadence::default()
                    };
                    let snapshot = OrgSnapshot::build(vec![cadence], SystemTime::UNIX_EPOCH);
                    state
                        .publish_snapshot(&format!("org{n}"), Arc::new(snapshot))
                        .await;
                })
            })
            .collect();
        // Every publisher has stored its snapshot and queued its request...
        while state.inner.encoding.lock().unwrap().requested < requested_before + ORGS as u64 {
            tokio::task::yield_now().await;
        }
        assert!(publishers.iter().all(|p| !p.is_finished()), "they wait");
        // ...when the encoding under way ends (it panicked) without covering them.
        state.inner.encoding.lock().unwrap().running = false;
        state.inner.encoded_signal.send_replace(());
        for publisher in publishers {
            publisher.await.unwrap();
        }
        assert_eq!(
            state.inner.encoding.lock().unwrap().runs,
            runs_before + 1,
            "one encoding served every waiting request"
        );
        let [cadence_part, _live] = state.scrape_parts(Format::Text, false);
        let text = String::from_utf8(cadence_part.to_vec()).unwrap();
        for n in 0..ORGS {
            assert!(
                text.contains(&format!("org=\"org{n}\"")),
                "org{n} missing from the encoding"
            );
        }
    }
}
