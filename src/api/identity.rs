//! gitpod.v1.IdentityService: the runner token exchange and "who am I".

use chrono::Utc;
use tonic::{Request, Response, Status};

use super::principal;
use crate::auth::tokens::{self, TokenKind};
use crate::error::Error;
use crate::proto::gitpod::v1::identity_service_server::IdentityService;
use crate::proto::gitpod::v1::{
    ExchangeTokenRequest, ExchangeTokenResponse, GetAuthenticatedIdentityRequest, GetAuthenticatedIdentityResponse,
    Subject,
};
use crate::state::AppState;
use crate::store;

pub struct IdentityApi {
    state: AppState,
}

impl IdentityApi {
    pub fn new(state: AppState) -> Self {
        IdentityApi { state }
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    /// Needs no bearer token: the exchange token is the credential. Unknown,
    /// used, revoked and expired tokens are refused alike.
    async fn exchange_token(
        &self,
        request: Request<ExchangeTokenRequest>,
    ) -> Result<Response<ExchangeTokenResponse>, Status> {
        let exchange = request.into_inner().exchange_token;
        let access = tokens::generate(TokenKind::RunnerAccess).map_err(Error::from)?;
        let outcome =
            store::tokens::exchange(&self.state.db, &tokens::hash(&exchange), access.hash, Utc::now()).await?;
        match outcome {
            Ok(_runner_id) => Ok(Response::new(ExchangeTokenResponse {
                access_token: access.plaintext,
            })),
            Err(_) => {
                Err(Error::Unauthenticated("the exchange token is unknown, expired or already used".into()).into())
            }
        }
    }

    async fn get_authenticated_identity(
        &self,
        request: Request<GetAuthenticatedIdentityRequest>,
    ) -> Result<Response<GetAuthenticatedIdentityResponse>, Status> {
        let caller = principal(&request)?;
        Ok(Response::new(GetAuthenticatedIdentityResponse {
            subject: Some(Subject {
                id: caller.id().to_string(),
                principal: caller.kind(),
            }),
            organization_id: caller.organization_id().to_string(),
            organization_tier: String::new(),
        }))
    }
}
