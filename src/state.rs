//! What every request handler shares.

use std::sync::Arc;

use crate::secrets::Secrets;
use crate::store::Db;

#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub secrets: Arc<Secrets>,
    /// Where users reach this server (OAuth callbacks are built from it).
    pub public_url: String,
}
