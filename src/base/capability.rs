//! Capabilities: values that exist only because an authorization check
//! passed. `auth::access` makes them; every store write that touches a runner
//! or what belongs to it takes one, so a write without a check does not
//! compile.
//!
//! They live in this leaf module (it imports nothing of paddock) so that the
//! store can name them without importing `auth`. Their fields are private and
//! their one constructor, `grant`, is crate-private;
//! `tests/integration/architecture.rs`
//! fails the build's tests if any file but `src/auth/access.rs` calls it. The
//! examples below are compiled by `cargo test --doc`, each failing one with
//! the error it must fail with.
//!
//! The write compiles with the capability the check hands back:
//!
//! ```no_run
//! # async fn f(db: &paddock::store::Db, caller: paddock::auth::Principal, runner_id: uuid::Uuid, group_id: uuid::Uuid)
//! # -> paddock::base::error::Result<()> {
//! let runner = paddock::auth::access::manage_runner(db, &caller, runner_id).await?;
//! paddock::store::policies::delete(db, &runner, group_id).await?;
//! # Ok(()) }
//! ```
//!
//! and not without it. From outside the crate no capability can be made,
//! nor a store write called with a bare id:
//!
//! ```compile_fail,E0308
//! # async fn f(db: &paddock::store::Db, runner_id: uuid::Uuid, group_id: uuid::Uuid) {
//! // a policy delete wants proof that the caller manages the runner, not an id
//! paddock::store::policies::delete(db, runner_id, group_id).await;
//! # }
//! ```
//!
//! ```compile_fail,E0624
//! # fn f(runner: paddock::store::runners::Runner, actor: paddock::base::capability::Actor) {
//! // and that proof cannot be forged
//! let forged = paddock::base::capability::Managed::grant(runner, actor);
//! # }
//! ```
//!
//! ```compile_fail,E0451
//! # fn f(runner: paddock::store::runners::Runner) {
//! let forged = paddock::base::capability::Managed { inner: runner, actor: todo!() };
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
    actor: Actor,
}

/// Who was allowed: the audit log's actor of every write made with the
/// capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: uuid::Uuid,
    /// gitpod.v1.Principal number.
    pub principal: i32,
    pub organization_id: uuid::Uuid,
}

impl Actor {
    /// Changes nobody authenticated for: the admin CLI, run by whoever may
    /// open the database, and the server's own sweeps. Audit entries name
    /// nobody (the nil id, principal unspecified).
    pub fn operator(organization_id: uuid::Uuid) -> Actor {
        Actor {
            id: uuid::Uuid::nil(),
            principal: 0,
            organization_id,
        }
    }
}

impl<T> Visible<T> {
    /// Only `auth::access` calls this (checked by tests/integration/architecture.rs).
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
    /// Only `auth::access` calls this (checked by tests/integration/architecture.rs).
    #[doc(hidden)]
    pub(crate) fn grant(inner: T, actor: Actor) -> Self {
        Managed { inner, actor }
    }

    /// Who holds the capability.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn get(&self) -> &T {
        &self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}
