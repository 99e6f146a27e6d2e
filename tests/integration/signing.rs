//! Tokens other systems verify: ID tokens (IdentityService.GetIDToken) and
//! runner logs tokens (RunnerService.CreateRunnerLogsToken), ES256 JWTs
//! checked here against the JWKS the server publishes over HTTP; key
//! rotation keeps the previous key published while its tokens live. (The
//! SDK test verifies them with an independent library, PyJWT.)

use http::{Method, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tonic::Code;

use crate::connect::Http;
use crate::harness::*;

const ISSUER: &str = "https://paddock.test";

async fn jwks(server: &TestServer) -> JwkSet {
    let configuration = Http::new(server, None)
        .send(Method::GET, "/.well-known/openid-configuration", &[], vec![])
        .await;
    assert_eq!(configuration.status, StatusCode::OK);
    let configuration = configuration.json();
    assert_eq!(configuration["issuer"], ISSUER);
    let jwks_uri = configuration["jwks_uri"].as_str().unwrap();
    let path = jwks_uri.strip_prefix(ISSUER).expect("the JWKS is the issuer's");
    let answer = Http::new(server, None).send(Method::GET, path, &[], vec![]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    serde_json::from_slice(&answer.body).expect("a JWKS")
}

/// The token's claims, when it verifies against the JWKS for `audience`.
fn verify(jwks: &JwkSet, token: &str, audience: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

protocol_tests!(id_tokens_verify_against_the_published_keys);
async fn id_tokens_verify_against_the_published_keys(protocol: Protocol) {
    let server = TestServer::start().await;
    let uma = server.member("uma").await;
    let token = server
        .identity(protocol, Some(&uma.token))
        .await
        .get_id_token(pb::GetIdTokenRequest {
            audience: vec!["sts.amazonaws.com".into(), "other".into()],
            version: pb::IdTokenVersion::V1 as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let keys = jwks(&server).await;
    let claims = verify(&keys, &token, "sts.amazonaws.com").unwrap();
    assert_eq!(claims["sub"], format!("user:{}", uma.id));
    assert_eq!(claims["organization_id"], uma.organization_id.to_string());
    assert_eq!(claims["aud"], serde_json::json!(["sts.amazonaws.com", "other"]));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 15 * 60);
    assert!(claims["jti"].is_string());
    // another audience is not this token's
    let err = verify(&keys, &token, "storage.googleapis.com").unwrap_err();
    assert_eq!(err.kind(), &jsonwebtoken::errors::ErrorKind::InvalidAudience);
    // a token changed after signing fails
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut forged = claims.clone();
    forged["sub"] = format!("user:{}", server.admin.id).into();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&forged).unwrap(),
    );
    let err = verify(&keys, &parts.join("."), "sts.amazonaws.com").unwrap_err();
    assert_eq!(err.kind(), &jsonwebtoken::errors::ErrorKind::InvalidSignature);

    // a runner's ID token names the runner
    let (runner_id, runner_token) = server.runner_with_token(protocol, &server.admin, "federated").await;
    let token = server
        .identity(protocol, Some(&runner_token))
        .await
        .get_id_token(pb::GetIdTokenRequest {
            audience: vec!["sts.amazonaws.com".into()],
            version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    assert_eq!(
        verify(&keys, &token, "sts.amazonaws.com").unwrap()["sub"],
        format!("runner:{runner_id}")
    );

    // bad input, and no token for the anonymous
    let err = server
        .identity(protocol, Some(&uma.token))
        .await
        .get_id_token(pb::GetIdTokenRequest::default())
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["audience"]);
    let err = server
        .identity(protocol, None)
        .await
        .get_id_token(pb::GetIdTokenRequest {
            audience: vec!["x".into()],
            version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    server.stop().await;
}

protocol_tests!(a_logs_token_is_for_one_runner_and_those_who_manage_it);
async fn a_logs_token_is_for_one_runner_and_those_who_manage_it(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, runner_token) = server.runner_with_token(protocol, &server.admin, "logging").await;
    let logs = |runner_id: &str| pb::CreateRunnerLogsTokenRequest {
        runner_id: runner_id.into(),
    };
    let token = server
        .runners(protocol, &server.admin.token)
        .await
        .create_runner_logs_token(logs(&runner_id))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let keys = jwks(&server).await;
    let audience = format!("paddock:runner:{runner_id}");
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().typ.as_deref(),
        Some("runner-logs+jwt")
    );
    let claims = verify(&keys, &token, &audience).unwrap();
    assert_eq!(claims["scope"], "runner.logs:read");
    assert_eq!(claims["sub"], format!("user:{}", server.admin.id));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    // it is no use to another runner, nor as a bearer token of the API
    let (other_runner, _) = server.runner_with_token(protocol, &server.admin, "not logging").await;
    assert_eq!(
        verify(&keys, &token, &format!("paddock:runner:{other_runner}"))
            .unwrap_err()
            .kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
    // no ID token can pass for it: paddock's own audiences are not for the asking
    let err = server
        .identity(protocol, Some(&server.admin.token))
        .await
        .get_id_token(pb::GetIdTokenRequest {
            audience: vec!["sts.amazonaws.com".into(), audience.clone()],
            version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["audience[1]"]);
    let err = server
        .runners(protocol, &token)
        .await
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // who may have one: those who manage the runner
    let vic = server.member("vic").await;
    let outsider = server.user_in("elsewhere", "wes", true).await;
    for (who, token, code) in [
        ("a plain member", vic.token.as_str(), Code::PermissionDenied),
        ("the runner itself", runner_token.as_str(), Code::PermissionDenied),
        ("another organization", outsider.token.as_str(), Code::NotFound),
    ] {
        let err = server
            .runners(protocol, token)
            .await
            .create_runner_logs_token(logs(&runner_id))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{who}");
    }
    let err = server
        .runners(protocol, &server.admin.token)
        .await
        .create_runner_logs_token(logs("r"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["runner_id"]);
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_key_stays_published_while_its_tokens_live() {
    let server = TestServer::start().await;
    let protocol = Protocol::Grpc;
    let id_token = async || {
        server
            .identity(protocol, Some(&server.admin.token))
            .await
            .get_id_token(pb::GetIdTokenRequest {
                audience: vec!["aud".into()],
                version: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .token
    };
    let before = id_token().await;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    // rotate as the admin CLI does, then reload as every replica does on its beat
    let new_kid = paddock::server::admin::rotate_signing_key(&server.state.db, &server.key)
        .await
        .unwrap()
        .to_string();
    server
        .state
        .signing
        .reload(&server.state.db, &server.state.secrets)
        .await
        .unwrap();
    let after = id_token().await;
    assert_eq!(jsonwebtoken::decode_header(&after).unwrap().kid.unwrap(), new_kid);
    let keys = jwks(&server).await;
    let kids: Vec<_> = keys.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    assert_eq!(
        kids,
        [new_kid.clone(), old_kid.clone()],
        "newest first, the old one still there"
    );
    verify(&keys, &before, "aud").expect("a token of the old key still verifies");
    verify(&keys, &after, "aud").unwrap();

    // once nothing it signed can be alive, the old key is no longer published
    use sea_orm::{ConnectionTrait, Statement};
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    let backend = server.state.db.get_database_backend();
    server
        .state
        .db
        .execute(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NOT NULL"
                }
                _ => "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NOT NULL",
            },
            [long_ago.into()],
        ))
        .await
        .unwrap();
    server
        .state
        .signing
        .reload(&server.state.db, &server.state.secrets)
        .await
        .unwrap();
    let keys = jwks(&server).await;
    assert!(keys.find(&old_kid).is_none());
    assert!(keys.find(&new_kid).is_some());
    // the documents are GET-only
    let post = Http::new(&server, None)
        .send(Method::POST, "/.well-known/jwks.json", &[], vec![])
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    server.stop().await;
}
