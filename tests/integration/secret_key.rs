//! Rotating the key stored secrets are encrypted with: `paddock admin
//! secret-key rotate` seals every one again under the new key; the server
//! then starts only with the new key, and every secret reads as before.

use paddock::base::secrets::SecretKey;

use crate::harness::*;
use crate::processes::BIN;

const P: Protocol = Protocol::Grpc;

fn rotate(db: &TestDb, old: &std::path::Path, new: &std::path::Path) -> std::process::Output {
    std::process::Command::new(BIN)
        .args([
            "admin",
            "secret-key",
            "rotate",
            "--database-url",
            &db.url,
            "--secret-key-file",
        ])
        .arg(old)
        .arg("--new-key-file")
        .arg(new)
        .env_remove("DATABASE_URL")
        .env_remove("PADDOCK_SECRET_KEY_FILE")
        .output()
        .expect("running paddock admin")
}

/// An ID token for the admin: signed with a key sealed under the secret key.
async fn id_token(server: &TestServer) -> Result<tonic::Response<pb::GetIdTokenResponse>, tonic::Status> {
    server
        .identity(P, Some(&server.admin.token))
        .await
        .get_id_token(pb::GetIdTokenRequest {
            audience: vec!["https://aud.example.com".into()],
            version: 0,
        })
        .await
}

#[tokio::test]
async fn a_rotated_key_opens_every_secret_and_the_old_one_no_longer_starts_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (old_file, new_file, wrong_file) = (
        dir.path().join("old.key"),
        dir.path().join("new.key"),
        dir.path().join("wrong.key"),
    );
    let old = SecretKey::read_or_create(&old_file).unwrap();
    let new = SecretKey::read_or_create(&new_file).unwrap();
    SecretKey::read_or_create(&wrong_file).unwrap();

    let db = std::sync::Arc::new(TestDb::new().await);
    let server = TestServer::start_configured(db.clone(), old.clone(), None, |_| {}).await;
    let (runner_id, runner_token, runner_key) = signed_up(&server, P, "keeper").await;
    let mut configuration = server.configuration(P, &server.admin.token).await;
    configuration
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            token: "ghp_kept_across_keys".into(),
            refresh_token: "ghr_kept_too".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    configuration
        .create_llm_integration(pb::CreateLlmIntegrationRequest {
            runner_id: runner_id.clone(),
            models: vec![pb::SupportedModel::Sonnet45 as i32],
            endpoint: "https://llm.example.com/v1".into(),
            api_key: "sk-kept".into(),
            max_tokens: 1024,
        })
        .await
        .unwrap();
    // a signing key exists once a token is signed
    id_token(&server).await.unwrap();
    let (db, _, admin) = server.stop().await;

    // the wrong "current" key changes nothing
    let refused = rotate(&db, &wrong_file, &new_file);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not match"),
        "{refused:?}"
    );

    let rotated = rotate(&db, &old_file, &new_file);
    assert!(rotated.status.success(), "{rotated:?}");
    let report: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    // host token and its refresh token, the LLM key, the signing key, the check value
    assert!(report["resealed"].as_u64().unwrap() >= 5, "{report}");

    // the old key no longer starts a server on this database
    let mut settings = paddock::server::settings::Settings::for_tests(&db.url, old);
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let stale = paddock::server::prepare(&settings).await.unwrap_err();
    assert!(format!("{stale:#}").contains("does not match"), "{stale:#}");

    // the new one does, and every secret reads as it was
    let server = TestServer::start_on(db, new, Some(admin)).await;
    let value = server
        .interaction(P, &runner_token)
        .await
        .get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            principal_id: server.admin.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(runner_key.unseal(&value.value).unwrap(), b"ghp_kept_across_keys");
    assert_eq!(runner_key.unseal(&value.refresh_token).unwrap(), b"ghr_kept_too");
    id_token(&server)
        .await
        .expect("the signing key opens under the new key");
    server.stop().await;
}
