//! gitpod.v1.UserService, the part paddock serves: who the caller is, the
//! users of their organization, and personal access tokens — created by their
//! user only (shown once), read and deleted by their user or an organization
//! admin. Deleting a token revokes it: at once on this replica, within the
//! token cache's bound (5 s) on the others.

mod personal_tokens;
mod users;

use crate::api::service;

service! {
    UserApi: crate::protocol::proto::gitpod::v1::user_service_server::UserService {
        get_authenticated_user(GetAuthenticatedUserRequest) -> GetAuthenticatedUserResponse = users::get_authenticated_user;
        get_user(GetUserRequest) -> GetUserResponse = users::get_user;
        create_personal_access_token(CreatePersonalAccessTokenRequest) -> CreatePersonalAccessTokenResponse = personal_tokens::create_personal_access_token;
        get_personal_access_token(GetPersonalAccessTokenRequest) -> GetPersonalAccessTokenResponse = personal_tokens::get_personal_access_token;
        list_personal_access_tokens(ListPersonalAccessTokensRequest) -> ListPersonalAccessTokensResponse = personal_tokens::list_personal_access_tokens;
        delete_personal_access_token(DeletePersonalAccessTokenRequest) -> DeletePersonalAccessTokenResponse = personal_tokens::delete_personal_access_token;
    }
}
