//! JWTs other systems verify without asking paddock: OIDC ID tokens
//! (IdentityService.GetIDToken) and runner logs tokens
//! (RunnerService.CreateRunnerLogsToken), signed ES256 with a key paddock
//! keeps, and verified against the JWKS it serves at
//! `/.well-known/jwks.json` (found through `/.well-known/openid-configuration`).
//!
//! Keys live in the database, the private half sealed with the server's
//! secret key. `paddock admin signing-key rotate` adds a new key and retires
//! the old one; the new key is published `PUBLISHED_BEFORE_SIGNING` before it
//! signs (the old one signs meanwhile), and the old one stays published for
//! as long as a token it signed can live. Every replica reloads the keys
//! every `RELOAD_EVERY`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use uuid::Uuid;

use crate::base::beat::Beat;
use crate::base::secrets::Secrets;
use crate::store::{self, Db, signing_keys};

/// The longest any token paddock signs lives.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How long an ID token lives.
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How long a runner logs token lives.
pub const LOGS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// A retired key stays published this long: it may sign for
/// `PUBLISHED_BEFORE_SIGNING` after it was retired, its tokens live
/// `MAX_TOKEN_LIFETIME`, and replicas reload with a margin.
pub const RETIRED_KEY_PUBLISHED: Duration = Duration::from_secs(3600 + 5 * 60);
/// How often each replica reloads the keys (to pick up a rotation).
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);
/// How long a new key is published before it signs: every replica has
/// reloaded it and every verifier's cached JWKS (`max-age=60`) has expired,
/// so no verifier meets a `kid` it has not seen.
pub const PUBLISHED_BEFORE_SIGNING: Duration = Duration::from_secs(90);
/// Keys loaded longer ago than this are not used to sign: a replica that
/// cannot reload might sign with a key the others stopped publishing.
const STALE_AFTER: Duration = Duration::from_secs(5 * 60);

const SEAL_PURPOSE: &str = crate::base::secrets::purpose::SIGNING_KEY;
/// What a logs token is for (its `scope` claim): reading that runner's logs.
pub const LOGS_SCOPE: &str = "runner.logs:read";
/// Audiences with this prefix are paddock's own (a logs token's is
/// `paddock:runner:<id>`): no ID token may carry one, so an ID token can
/// never pass for a logs token.
pub const RESERVED_AUDIENCE_PREFIX: &str = "paddock:";
/// The `typ` header of a logs token (ID tokens are `JWT`).
pub const LOGS_TOKEN_TYPE: &str = "runner-logs+jwt";

/// The audience of a runner's logs tokens.
pub fn logs_audience(runner_id: Uuid) -> String {
    format!("{RESERVED_AUDIENCE_PREFIX}runner:{runner_id}")
}

struct Keys {
    /// The key that signs: its id (the `kid`) and private key.
    signing: Option<(Uuid, EncodingKey)>,
    jwks: JwkSet,
    loaded: std::time::Instant,
}

/// The keys of this replica, as last loaded.
pub struct KeyRing {
    keys: RwLock<Keys>,
    issuer: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A new P-256 key, sealed for the database, with its public JWK.
pub fn new_key(secrets: &Secrets) -> anyhow::Result<signing_keys::NewKey> {
    let key = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // all but a 2^-32 sliver of 32-byte strings are valid scalars
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            break key;
        }
    };
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("encoding the signing key: {e}"))?;
    let encoding = EncodingKey::from_ec_der(der.as_bytes());
    let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)?;
    Ok(signing_keys::NewKey {
        sealed_private_key: secrets.seal(SEAL_PURPOSE, der.as_bytes())?,
        public_jwk: serde_json::to_string(&jwk)?,
    })
}

fn published_jwk(key: &signing_keys::SigningKey) -> anyhow::Result<Jwk> {
    let mut jwk: Jwk = serde_json::from_str(&key.public_jwk)?;
    jwk.common.key_id = Some(key.id.to_string());
    jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
    Ok(jwk)
}

impl KeyRing {
    /// Loads the keys, making the first one if there is none.
    pub async fn load(db: &Db, secrets: &Secrets, issuer: String) -> anyhow::Result<Arc<KeyRing>> {
        signing_keys::ensure(db, || new_key(secrets)).await?;
        let ring = Arc::new(KeyRing {
            keys: RwLock::new(Keys {
                signing: None,
                jwks: JwkSet { keys: vec![] },
                loaded: std::time::Instant::now(),
            }),
            issuer,
        });
        ring.reload(db, secrets).await?;
        Ok(ring)
    }

    /// Reads the published keys again, and picks the one that signs: the
    /// newest published for `PUBLISHED_BEFORE_SIGNING` (a key retired
    /// moments ago goes on signing until its successor is known everywhere),
    /// or — on a first start, when there is only a new key — the newest
    /// current one.
    pub async fn reload(&self, db: &Db, secrets: &Secrets) -> anyhow::Result<()> {
        let now = Utc::now();
        let published = signing_keys::published(db, now - RETIRED_KEY_PUBLISHED).await?;
        let jwks = published
            .iter()
            .map(published_jwk)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let older_than = |at: DateTime<Utc>| {
            now.signed_duration_since(at)
                .to_std()
                .is_ok_and(|age| age >= PUBLISHED_BEFORE_SIGNING)
        };
        // (newest first) a key signs once published long enough, and stops
        // that long after it was retired
        let signer = published
            .iter()
            .filter(|key| key.retired_at.is_none_or(|at| !older_than(at)))
            .find(|key| older_than(key.created_at))
            .or_else(|| published.iter().find(|key| key.retired_at.is_none()));
        let signing = match signer {
            Some(key) => {
                let der = secrets.open(SEAL_PURPOSE, &key.sealed_private_key)?;
                Some((key.id, EncodingKey::from_ec_der(&der)))
            }
            None => None,
        };
        let mut keys = self
            .keys
            .write()
            .map_err(|_| anyhow::anyhow!("signing keys poisoned"))?;
        *keys = Keys {
            signing,
            jwks: JwkSet { keys: jwks },
            loaded: std::time::Instant::now(),
        };
        Ok(())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS document.
    pub fn jwks(&self) -> JwkSet {
        self.keys
            .read()
            .map(|k| k.jwks.clone())
            .unwrap_or(JwkSet { keys: vec![] })
    }

    /// `claims` signed with the signing key (its id as `kid`), with `typ`.
    fn sign(&self, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
        let keys = self.keys.read().map_err(|_| anyhow::anyhow!("signing keys poisoned"))?;
        if keys.loaded.elapsed() > STALE_AFTER {
            anyhow::bail!("the signing keys could not be reloaded for minutes: not signing with them");
        }
        let (kid, key) = keys
            .signing
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no signing key: run `paddock admin signing-key rotate`"))?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_string());
        header.typ = Some(typ.into());
        Ok(jsonwebtoken::encode(&header, claims, key)?)
    }

    /// An ID token for `subject` (`user:<id>` or `runner:<id>`) of an
    /// organization, for `audience`.
    pub fn id_token(&self, subject: &str, organization_id: Uuid, audience: &[String]) -> anyhow::Result<String> {
        let now = Utc::now();
        self.sign(
            "JWT",
            &Claims {
                iss: &self.issuer,
                sub: subject,
                aud: audience,
                iat: now.timestamp(),
                nbf: now.timestamp(),
                exp: expiry(now, ID_TOKEN_LIFETIME),
                jti: Uuid::now_v7().to_string(),
                organization_id: organization_id.to_string(),
                scope: None,
            },
        )
    }

    /// A token whose one use is reading runner `runner_id`'s logs: its
    /// audience is the runner (`logs_audience`), its type `LOGS_TOKEN_TYPE`.
    pub fn logs_token(&self, subject: &str, organization_id: Uuid, runner_id: Uuid) -> anyhow::Result<String> {
        let now = Utc::now();
        self.sign(
            LOGS_TOKEN_TYPE,
            &Claims {
                iss: &self.issuer,
                sub: subject,
                aud: &[logs_audience(runner_id)],
                iat: now.timestamp(),
                nbf: now.timestamp(),
                exp: expiry(now, LOGS_TOKEN_LIFETIME),
                jti: Uuid::now_v7().to_string(),
                organization_id: organization_id.to_string(),
                scope: Some(LOGS_SCOPE),
            },
        )
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.issuer),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "organization_id", "scope"],
        })
    }
}

fn expiry(now: DateTime<Utc>, lifetime: Duration) -> i64 {
    now.timestamp() + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a [String],
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    organization_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
}

/// Reloads the keys every `RELOAD_EVERY` and forgets long-retired ones.
pub async fn run_reloader(
    ring: Arc<KeyRing>,
    db: Db,
    secrets: Arc<Secrets>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut beat = Beat::new(RELOAD_EVERY);
    tokio::pin!(stop);
    while beat.next(&mut stop).await {
        if let Err(e) = ring.reload(&db, &secrets).await {
            tracing::warn!(error = %e, "reloading the signing keys failed; keeping the ones loaded");
        }
        let forgotten = Utc::now() - RETIRED_KEY_PUBLISHED - chrono::Duration::hours(1);
        if let Err(e) = store::signing_keys::prune(&db, forgotten).await {
            tracing::warn!(error = %e, "forgetting retired signing keys failed");
        }
    }
}
