//! The one table of status codes: gRPC number ⇄ Connect name ⇄ HTTP status
//! (from the Connect protocol specification).

use http::StatusCode;
use tonic::Code;

/// (gRPC code, Connect name, HTTP status of a Connect unary error)
const TABLE: [(Code, &str, u16); 17] = [
    (Code::Ok, "ok", 200),
    (Code::Cancelled, "canceled", 499),
    (Code::Unknown, "unknown", 500),
    (Code::InvalidArgument, "invalid_argument", 400),
    (Code::DeadlineExceeded, "deadline_exceeded", 504),
    (Code::NotFound, "not_found", 404),
    (Code::AlreadyExists, "already_exists", 409),
    (Code::PermissionDenied, "permission_denied", 403),
    (Code::ResourceExhausted, "resource_exhausted", 429),
    (Code::FailedPrecondition, "failed_precondition", 400),
    (Code::Aborted, "aborted", 409),
    (Code::OutOfRange, "out_of_range", 400),
    (Code::Unimplemented, "unimplemented", 501),
    (Code::Internal, "internal", 500),
    (Code::Unavailable, "unavailable", 503),
    (Code::DataLoss, "data_loss", 500),
    (Code::Unauthenticated, "unauthenticated", 401),
];

fn row(code: Code) -> (Code, &'static str, u16) {
    TABLE.iter().copied().find(|(c, _, _)| *c == code).unwrap_or(TABLE[2])
}

/// The Connect name of a code, e.g. `not_found`.
pub fn connect_name(code: Code) -> &'static str {
    row(code).1
}

/// The HTTP status a Connect unary error with this code carries.
pub fn http_status(code: Code) -> StatusCode {
    StatusCode::from_u16(row(code).2).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The code named by a `grpc-status` value; anything unreadable is UNKNOWN.
pub fn from_grpc_status(value: &[u8]) -> Code {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .map(Code::from_i32)
        .unwrap_or(Code::Unknown)
}

/// The code a Connect client infers from an HTTP status without a Connect
/// error body (used for our own non-Connect answers, e.g. 404 on GET).
pub fn from_connect_name(name: &str) -> Option<Code> {
    TABLE.iter().find(|(_, n, _)| *n == name).map(|(c, _, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_row() {
        for i in 0..=16 {
            let code = Code::from_i32(i);
            assert_eq!(row(code).0, code);
            assert_eq!(from_connect_name(connect_name(code)), Some(code));
        }
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(from_grpc_status(b"16"), Code::Unauthenticated);
        assert_eq!(from_grpc_status(b"x"), Code::Unknown);
    }
}
