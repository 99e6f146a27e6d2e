//! Request validation mirroring the reference's buf.validate rules. Every
//! violation names its field (as a path, e.g. `filter.kinds[1]`); all of a
//! request's violations are reported together.

use uuid::Uuid;

use crate::error::{Error, FieldViolation, Result};

/// Collects the violations of one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

/// `string.uuid`: the canonical 8-4-4-4-12 hex form, any version.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// `string.uuid`; returns the parsed id when valid.
    pub fn uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if is_uuid(value) {
            Uuid::parse_str(value).ok()
        } else {
            self.add(field, "value must be a valid UUID");
            None
        }
    }

    /// `string.uuid` with IGNORE_IF_UNPOPULATED: empty is allowed.
    pub fn optional_uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            None
        } else {
            self.uuid(field, value)
        }
    }

    /// `string.min_len` / `string.max_len`, counted in characters as
    /// buf.validate does.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min {
            self.add(field, format!("value length must be at least {min} characters"));
        } else if n > max {
            self.add(field, format!("value length must be at most {max} characters"));
        }
    }

    /// Text paddock stores must not hold NUL characters: valid UTF-8, but
    /// PostgreSQL cannot store them (and no name or URL needs one).
    pub fn storable(&mut self, field: &str, value: &str) {
        if value.contains('\0') {
            self.add(field, "value must not contain NUL characters");
        }
    }

    /// `enum.defined_only`.
    pub fn defined_enum<E: TryFrom<i32>>(&mut self, field: &str, value: i32) {
        if E::try_from(value).is_err() {
            self.add(field, "value must be one of the defined enum values");
        }
    }

    /// `repeated.max_items`.
    pub fn max_items<T>(&mut self, field: &str, items: &[T], max: usize) -> bool {
        if items.len() > max {
            self.add(field, format!("value must contain no more than {max} item(s)"));
            false
        } else {
            true
        }
    }

    /// `repeated { max_items: 25, items { string { uuid: true } } }`, the
    /// rule of every id filter; returns the valid ids, sorted.
    pub fn id_filter(&mut self, field: &str, ids: &[String]) -> Vec<Uuid> {
        let mut valid = Vec::new();
        if self.max_items(field, ids, 25) {
            for (i, id) in ids.iter().enumerate() {
                valid.extend(self.uuid(&format!("{field}[{i}]"), id));
            }
        }
        valid.sort();
        valid
    }

    /// `int32 { gte: 0, lte: 100 }` of PaginationRequest.page_size.
    pub fn page_size(&mut self, field: &str, value: i32) {
        if !(0..=crate::pagination::MAX_PAGE_SIZE).contains(&value) {
            self.add(
                field,
                "value must be greater than or equal to 0 and less than or equal to 100",
            );
        }
    }

    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_form_is_strict() {
        assert!(is_uuid("d2c94c27-3b76-4a42-b88c-95a85e392c68"));
        assert!(is_uuid("D2C94C27-3B76-4A42-B88C-95A85E392C68"));
        assert!(!is_uuid("d2c94c273b764a42b88c95a85e392c68"));
        assert!(!is_uuid("{d2c94c27-3b76-4a42-b88c-95a85e392c68}"));
        assert!(!is_uuid("d2c94c27-3b76-4a42-b88c-95a85e392c6g"));
        assert!(!is_uuid(""));
    }

    #[test]
    fn lengths_count_characters() {
        let mut v = Violations::new();
        v.length("name", "äöü", 3, 127);
        v.length("name", "ab", 3, 127);
        v.length("name", &"x".repeat(128), 3, 127);
        assert_eq!(v.0.len(), 2);
    }
}
