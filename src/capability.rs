//! Capabilities: values that exist only because an authorization check
//! passed. `auth::access` makes them; every store write that touches a runner
//! or what belongs to it takes one, so a write without a check does not
//! compile.
//!
//! They live in this leaf module (it imports nothing of paddock) so that the
//! store can name them without importing `auth`. Their fields are private and
//! their one constructor, `grant`, is crate-private; `tests/architecture.rs`
//! fails the build's tests if any file but `src/auth/access.rs` calls it.
//!
//! From outside the crate neither can be made — nor can a store write be
//! called with a bare id:
//!
//! ```compile_fail
//! # async fn f(db: &paddock::store::Db, runner_id: uuid::Uuid, group_id: uuid::Uuid) {
//! // a policy delete wants proof that the caller manages the runner, not an id
//! paddock::store::policies::delete(db, runner_id, group_id).await;
//! # }
//! ```
//!
//! ```compile_fail
//! # fn f(runner: paddock::store::runners::Runner) {
//! // and that proof cannot be forged
//! let forged = paddock::capability::Managed::grant(runner);
//! # }
//! ```
//!
//! ```compile_fail
//! # fn f(runner: paddock::store::runners::Runner) {
//! let forged = paddock::capability::Managed { inner: runner };
//! # }
//! ```

/// Something the caller may read: a runner of their organization, a class
/// or an integration of a runner they see.
#[derive(Debug)]
pub struct Visible<T> {
    inner: T,
}

/// Something the caller may change: a runner they manage (and through it
/// its classes, integrations and policies), their own host token, or the
/// right to create a runner in their organization.
#[derive(Debug)]
pub struct Managed<T> {
    inner: T,
}

impl<T> Visible<T> {
    /// Only `auth::access` calls this (checked by tests/architecture.rs).
    #[doc(hidden)]
    pub(crate) fn grant(inner: T) -> Self {
        Visible { inner }
    }

    pub fn get(&self) -> &T {
        &self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> Managed<T> {
    /// Only `auth::access` calls this (checked by tests/architecture.rs).
    #[doc(hidden)]
    pub(crate) fn grant(inner: T) -> Self {
        Managed { inner }
    }

    pub fn get(&self) -> &T {
        &self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}
