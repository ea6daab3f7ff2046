//! Placeholder: being written.

use super::{Batch, BoxFuture, ConnectorError, PullMode, PullRequest, Source};
use crate::config::Connector;

pub struct HttpSource;

impl HttpSource {
    pub fn open(_connector: &Connector, _request: PullRequest) -> Result<Self, ConnectorError> {
        Err(ConnectorError::Config("not built yet".into()))
    }
}

impl Source for HttpSource {
    fn mode(&self) -> PullMode {
        PullMode::Snapshot
    }

    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<Batch>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }
}
