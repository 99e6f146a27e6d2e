//! The one error type of paddock, and the single place it becomes a
//! `tonic::Status`.

use sea_orm::{DbErr, TransactionError};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// One failed validation rule: the request field (as a path such as
/// `filter.creator_ids[2]`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// FAILED_PRECONDITION with one error detail (type name, encoded message),
    /// e.g. gitpod.v1.ParseContextURLPreconditionFailureDetails.
    #[error("{0}")]
    FailedPreconditionWithDetail(String, &'static str, Vec<u8>),
    #[error("{0}")]
    DeadlineExceeded(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Aborted(String),
    /// Over a limit (see `auth::limits`): RESOURCE_EXHAUSTED with RetryInfo, and
    /// Retry-After on Connect.
    #[error("{0}")]
    ResourceExhausted(String, std::time::Duration),
    #[error("database: {0}")]
    Database(DbErr),
    #[error("internal: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    let parts: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect();
    format!("invalid request: {}", parts.join("; "))
}

/// The SQLSTATE of a database error, when the database gave one.
fn sql_state(e: &DbErr) -> Option<String> {
    use sea_orm::{RuntimeErr, sqlx};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(d)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(d))) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether a database error says the database could not be reached (no
/// connection within the checkout timeout, a connection lost or refused),
/// rather than that a statement failed.
fn unreachable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let sqlx_error = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    matches!(
        sqlx_error,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
    )
}

/// Whether the database refuses to write for want of space or permission:
/// SQLite's full disk, read-only file or mount, or failing disk; PostgreSQL's
/// full disk, or a read-only transaction (a standby, or a database set
/// read-only).
fn unwritable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let database_error = match e {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(d)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(d))) => d,
        _ => return false,
    };
    let Some(code) = database_error.code() else {
        return false;
    };
    if database_error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // the primary result code, under any extended one
        const READONLY: i32 = 8;
        const IOERR: i32 = 10;
        const FULL: i32 = 13;
        return code
            .parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, READONLY | IOERR | FULL));
    }
    matches!(code.as_ref(), "53100" | "25006")
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Self {
        // Fail fast and say so: the client may try again, or elsewhere.
        if unreachable(&e) {
            tracing::warn!(error = %e, "the database is unreachable");
            return Error::Unavailable("the database is unreachable; try again shortly".into());
        }
        // The operator must act (free space, remount): say so loudly in the
        // log; the client may retry, and reads go on meanwhile.
        if unwritable(&e) {
            tracing::error!(error = %e, "the database refuses writes: out of space or read-only");
            return Error::Unavailable(
                "the database cannot take writes now (out of space or read-only); reads still work".into(),
            );
        }
        // A write that refers to or updates a row deleted meanwhile (a runner
        // deleted while its token is minted, say) lost a race: not found.
        // (SQLite re-reads an inserted row: a cascade may have removed it meanwhile.)
        if matches!(e, DbErr::RecordNotUpdated | DbErr::RecordNotFound(_))
            || matches!(e.sql_err(), Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)))
        {
            return Error::NotFound("the record was deleted meanwhile".into());
        }
        // PostgreSQL broke a deadlock or a serialization conflict between
        // concurrent writes: the client may simply try again.
        if matches!(sql_state(&e).as_deref(), Some("40P01" | "40001")) {
            return Error::Aborted("a concurrent change got in the way; try again".into());
        }
        Error::Database(e)
    }
}

impl From<TransactionError<Error>> for Error {
    fn from(e: TransactionError<Error>) -> Self {
        match e {
            TransactionError::Connection(db) => Error::Database(db),
            TransactionError::Transaction(inner) => inner,
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            Error::NotFound(_) => Status::not_found(message),
            Error::AlreadyExists(_) => Status::already_exists(message),
            Error::PermissionDenied(_) => Status::permission_denied(message),
            Error::Unauthenticated(_) => Status::unauthenticated(message),
            Error::FailedPrecondition(_) => Status::failed_precondition(message),
            Error::FailedPreconditionWithDetail(_, type_name, value) => {
                use prost::Message;
                let status = tonic_types::pb::Status {
                    code: Code::FailedPrecondition as i32,
                    message: message.clone(),
                    details: vec![prost_types::Any {
                        type_url: format!("type.googleapis.com/{type_name}"),
                        value,
                    }],
                };
                Status::with_details(Code::FailedPrecondition, message, status.encode_to_vec().into())
            }
            Error::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            Error::Unavailable(_) => Status::unavailable(message),
            Error::Aborted(_) => Status::aborted(message),
            Error::ResourceExhausted(_, retry_after) => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_retry_info(Some(retry_after)),
            ),
            // Details of internal failures go to the log, never to the client.
            Error::Database(_) | Error::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
