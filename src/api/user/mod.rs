//! gitpod.v1.UserService, the part paddock serves: who the caller is, the
//! users of their organization, and personal access tokens — created by their
//! user only (shown once), read and deleted by their user or an organization
//! admin. Deleting a token revokes it: at once on this replica, within the
//! token cache's bound (5 s) on the others.

use chrono::Utc;

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid, service};
use crate::auth::{Principal, access, tokens};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::personal_tokens::{self, NewPersonalToken, PersonalToken};

service! {
    UserApi: crate::protocol::proto::gitpod::v1::user_service_server::UserService {
        get_authenticated_user(GetAuthenticatedUserRequest) -> GetAuthenticatedUserResponse = get_authenticated_user;
        get_user(GetUserRequest) -> GetUserResponse = get_user;
        create_personal_access_token(CreatePersonalAccessTokenRequest) -> CreatePersonalAccessTokenResponse = create_personal_access_token;
        get_personal_access_token(GetPersonalAccessTokenRequest) -> GetPersonalAccessTokenResponse = get_personal_access_token;
        list_personal_access_tokens(ListPersonalAccessTokensRequest) -> ListPersonalAccessTokensResponse = list_personal_access_tokens;
        delete_personal_access_token(DeletePersonalAccessTokenRequest) -> DeletePersonalAccessTokenResponse = delete_personal_access_token;
    }
}

/// `valid_for`'s upper bound (buf.validate: lte 7776000s), also the
/// lifetime of a token created without one.
const MAX_VALID_FOR: chrono::Duration = chrono::Duration::days(90);

pub(crate) fn to_user(u: crate::store::members::Member) -> pb::User {
    pb::User {
        id: u.id.to_string(),
        organization_id: u.organization_id.to_string(),
        name: u.name,
        avatar_url: String::new(),
        created_at: Some(convert::timestamp(u.created_at)),
        // paddock's users are active while they exist
        status: pb::UserStatus::Active as i32,
        email: String::new(),
    }
}

async fn get_authenticated_user(
    state: &AppState,
    caller: Principal,
    _req: pb::GetAuthenticatedUserRequest,
) -> Result<pb::GetAuthenticatedUserResponse> {
    if let Principal::Runner { .. } = caller {
        return Err(Error::PermissionDenied(
            "a runner is not a user: GetAuthenticatedIdentity says who it is".into(),
        ));
    }
    let user = access::see_user(&state.read_db, &caller, caller.id()).await?;
    Ok(pb::GetAuthenticatedUserResponse {
        user: Some(to_user(user.into_inner())),
    })
}

async fn get_user(state: &AppState, caller: Principal, req: pb::GetUserRequest) -> Result<pb::GetUserResponse> {
    let id = require_uuid("user_id", &req.user_id)?;
    let user = access::see_user(&state.read_db, &caller, id).await?;
    Ok(pb::GetUserResponse {
        user: Some(to_user(user.into_inner())),
    })
}

/// `valid_for` as a lifetime: at most 90 days, not negative; none (or zero)
/// is the longest.
fn lifetime(v: &mut Violations, valid_for: Option<&prost_types::Duration>) -> chrono::Duration {
    v.duration("valid_for", valid_for, MAX_VALID_FOR, "0s and 7776000s (90 days)")
        .filter(|d| !d.is_zero())
        .unwrap_or(MAX_VALID_FOR)
}

async fn create_personal_access_token(
    state: &AppState,
    caller: Principal,
    req: pb::CreatePersonalAccessTokenRequest,
) -> Result<pb::CreatePersonalAccessTokenResponse> {
    let mut v = Violations::new();
    let for_user = v.uuid("user_id", &req.user_id);
    let lifetime = lifetime(&mut v, req.valid_for.as_ref());
    v.storable("description", &req.description);
    let for_user = v.finish(for_user)?;
    let minter = access::mint_personal_token(&caller, Some(for_user))?;
    let token = tokens::generate(tokens::TokenKind::PersonalAccess)?;
    personal_tokens::create(
        &state.db,
        &minter,
        NewPersonalToken {
            hash: token.hash,
            description: req.description,
            expires_at: Utc::now() + lifetime,
            read_only: req.read_only,
        },
    )
    .await?;
    Ok(pb::CreatePersonalAccessTokenResponse { token: token.plaintext })
}

fn to_proto(t: PersonalToken) -> pb::PersonalAccessToken {
    let user_id = t.user_id.map(|u| u.to_string()).unwrap_or_default();
    pb::PersonalAccessToken {
        id: t.id.to_string(),
        creator: Some(pb::Subject {
            id: user_id.clone(),
            principal: pb::Principal::User as i32,
        }),
        user_id,
        description: t.description,
        created_at: Some(convert::timestamp(t.created_at)),
        expires_at: t.expires_at.map(convert::timestamp),
        last_used: t.last_used_at.map(convert::timestamp),
        read_only: t.read_only,
    }
}

async fn get_personal_access_token(
    state: &AppState,
    caller: Principal,
    req: pb::GetPersonalAccessTokenRequest,
) -> Result<pb::GetPersonalAccessTokenResponse> {
    let id = require_uuid("personal_access_token_id", &req.personal_access_token_id)?;
    let token = access::personal_token(&state.read_db, &caller, id).await?;
    Ok(pb::GetPersonalAccessTokenResponse {
        pat: Some(to_proto(token.into_inner())),
    })
}

async fn list_personal_access_tokens(
    state: &AppState,
    caller: Principal,
    req: pb::ListPersonalAccessTokensRequest,
) -> Result<pb::ListPersonalAccessTokensResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let f = req.filter.unwrap_or_default();
    let user_ids = v.id_filter("filter.user_ids", &f.user_ids);
    v.finish(())?;
    let owners = access::see_personal_tokens(&caller, user_ids)?;
    let owners = owners.get();
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "personal_access_tokens",
        owners,
        req.pagination,
        |t: &PersonalToken| t.id,
        |page| personal_tokens::list(&state.read_db, owners, page),
    )
    .await?;
    Ok(pb::ListPersonalAccessTokensResponse {
        pagination,
        personal_access_tokens: rows.into_iter().map(to_proto).collect(),
    })
}

async fn delete_personal_access_token(
    state: &AppState,
    caller: Principal,
    req: pb::DeletePersonalAccessTokenRequest,
) -> Result<pb::DeletePersonalAccessTokenResponse> {
    let id = require_uuid("personal_access_token_id", &req.personal_access_token_id)?;
    let token = access::personal_token(&state.db, &caller, id).await?;
    personal_tokens::delete(&state.db, &token).await?;
    state.token_cache.forget_stored(&token.get().hash);
    Ok(pb::DeletePersonalAccessTokenResponse {})
}
