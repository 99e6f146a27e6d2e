//! Request validation mirroring the reference's buf.validate rules. Every
//! violation names its field (as a path, e.g. `filter.kinds[1]`); all of a
//! request's violations are reported together.

use uuid::Uuid;

use crate::base::error::{Error, FieldViolation, Result};

/// Collects the violations of one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

/// A value a required rule parsed (e.g. a UUID). It is present exactly when
/// its rule held, so `Violations::finish` hands it back once nothing failed.
#[derive(Debug)]
#[must_use = "hand checked values to Violations::finish"]
pub struct Checked<T>(Option<T>);

/// What `Violations::finish` hands back: one checked value, a tuple of them,
/// or nothing (`()`).
pub trait CheckedValues {
    type Values;
    fn into_values(self) -> Option<Self::Values>;
}

impl<T> CheckedValues for Checked<T> {
    type Values = T;
    fn into_values(self) -> Option<T> {
        self.0
    }
}

impl CheckedValues for () {
    type Values = ();
    fn into_values(self) -> Option<()> {
        Some(())
    }
}

macro_rules! checked_tuple {
    ($($name:ident),+) => {
        impl<$($name: CheckedValues),+> CheckedValues for ($($name,)+) {
            type Values = ($($name::Values,)+);
            #[allow(non_snake_case)]
            fn into_values(self) -> Option<Self::Values> {
                let ($($name,)+) = self;
                Some(($($name.into_values()?,)+))
            }
        }
    };
}
checked_tuple!(A, B);
checked_tuple!(A, B, C);

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

    /// `string.uuid`; the parsed id, for `finish`.
    pub fn uuid(&mut self, field: &str, value: &str) -> Checked<Uuid> {
        Checked(self.parse_uuid(field, value))
    }

    fn parse_uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        match Uuid::parse_str(value) {
            Ok(id) if is_uuid(value) => Some(id),
            _ => {
                self.add(field, "value must be a valid UUID");
                None
            }
        }
    }

    /// `string.uuid` with IGNORE_IF_UNPOPULATED: empty is allowed (None).
    pub fn optional_uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.is_empty() {
            None
        } else {
            self.parse_uuid(field, value)
        }
    }

    /// `string.uuid` on an `optional string`: unset is allowed, but a value
    /// that is set — even empty — must be a UUID.
    pub fn uuid_if_set(&mut self, field: &str, value: Option<&str>) -> Option<Uuid> {
        value.and_then(|v| self.parse_uuid(field, v))
    }

    /// `int32 { gte, lte }`, on a value that arrives wider than it is stored.
    pub fn range<T: Copy + PartialOrd + std::fmt::Display>(&mut self, field: &str, value: T, min: T, max: T) {
        if value < min || value > max {
            self.add(
                field,
                format!("value must be greater than or equal to {min} and less than or equal to {max}"),
            );
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

    /// `string.uri`: an absolute URI.
    pub fn uri(&mut self, field: &str, value: &str) {
        if url::Url::parse(value).is_err() {
            self.add(field, "value must be a valid URI");
        }
    }

    /// `enum.defined_only`.
    pub fn defined_enum<E: TryFrom<i32>>(&mut self, field: &str, value: i32) {
        if E::try_from(value).is_err() {
            self.add(field, "value must be one of the defined enum values");
        }
    }

    /// `repeated { max_items: max, items { enum { defined_only: true } } }`,
    /// the rule of every enum filter: each item named by its index.
    pub fn defined_enums<E: TryFrom<i32>>(&mut self, field: &str, values: &[i32], max: usize) {
        if self.max_items(field, values, max) {
            for (i, value) in values.iter().enumerate() {
                self.defined_enum::<E>(&format!("{field}[{i}]"), *value);
            }
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
                valid.extend(self.parse_uuid(&format!("{field}[{i}]"), id));
            }
        }
        valid.sort();
        valid
    }

    /// A `google.protobuf.Duration` between 0 and `max` (`duration { gte: 0s, lte: max }`):
    /// None when it is unset or out of bounds (the latter a violation naming `field`).
    pub fn duration(
        &mut self,
        field: &str,
        value: Option<&prost_types::Duration>,
        max: chrono::Duration,
        bounds: &str,
    ) -> Option<chrono::Duration> {
        let d = value?;
        let duration = chrono::Duration::seconds(d.seconds) + chrono::Duration::nanoseconds(i64::from(d.nanos));
        if d.seconds < 0 || !(0..=999_999_999).contains(&d.nanos) || duration > max {
            self.add(field, format!("must be between {bounds}"));
            return None;
        }
        Some(duration)
    }

    /// `int32 { gte: 0, lte: 100 }` of PaginationRequest.page_size.
    pub fn page_size(&mut self, field: &str, value: i32) {
        if !(0..=crate::base::pagination::MAX_PAGE_SIZE).contains(&value) {
            self.add(
                field,
                "value must be greater than or equal to 0 and less than or equal to 100",
            );
        }
    }

    /// INVALID_ARGUMENT naming every violated field; otherwise the checked
    /// values (a `Checked`, a tuple of them, or `()`).
    pub fn finish<C: CheckedValues>(self, checked: C) -> Result<C::Values> {
        if !self.0.is_empty() {
            return Err(Error::InvalidArgument(self.0));
        }
        // a Checked is empty only when its rule added a violation
        checked
            .into_values()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a checked value is missing, yet no rule failed")))
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

    #[test]
    fn finish_hands_back_checked_values_or_names_every_field() {
        let mut v = Violations::new();
        let a = v.uuid("a", "d2c94c27-3b76-4a42-b88c-95a85e392c68");
        let b = v.uuid("b", "d2c94c27-3b76-4a42-b88c-95a85e392c69");
        let (a, b) = v.finish((a, b)).unwrap();
        assert_ne!(a, b);

        let mut v = Violations::new();
        let a = v.uuid("a", "nope");
        v.range("hour", 24u32, 0, 23);
        match v.finish(a) {
            Err(Error::InvalidArgument(violations)) => {
                let fields: Vec<_> = violations.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(fields, ["a", "hour"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
