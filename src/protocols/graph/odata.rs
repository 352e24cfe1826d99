//! Reading OData JSON properties by their EDM type, with errors that name the
//! property's full path (`quality.mediaQualityList[2].averageInboundJitter`),
//! so a client learns exactly what to fix.
//!
//! JSON `null` and an absent property mean the same thing (unset); a
//! non-nullable property is required by [`Object::require`].

use serde_json::{Map, Value};
use uuid::Uuid;

use super::duration::{self, Duration};

/// A property that breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("The property '{path}' is required and cannot be null.")]
    Missing { path: String },
    #[error("The property '{path}' has an invalid value: {problem}.")]
    Invalid { path: String, problem: String },
}

impl SchemaError {
    pub fn invalid(path: impl Into<String>, problem: impl Into<String>) -> Self {
        SchemaError::Invalid {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// A JSON object being read, and where it sits in the body.
pub struct Object<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Object<'a> {
    /// `value` as an object at `path`.
    pub fn at(value: &'a Value, path: impl Into<String>) -> Result<Self, SchemaError> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Object { map, path }),
            Value::Null => Err(SchemaError::Missing { path }),
            other => Err(SchemaError::invalid(
                path,
                format!("expected an object, found {}", kind_of(other)),
            )),
        }
    }

    /// Where this object sits in the body (empty for the body itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full path of property `name`.
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Every property name, in the order sent.
    pub fn names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.map.keys().map(String::as_str)
    }

    /// The property, or `None` when absent or `null`.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// True when any of `names` is set (present and not `null`).
    pub fn has_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.get(n).is_some())
    }

    /// A value that must be set.
    pub fn require<T>(&self, name: &str, value: Option<T>) -> Result<T, SchemaError> {
        value.ok_or_else(|| SchemaError::Missing {
            path: self.path_of(name),
        })
    }

    fn wrong(&self, name: &str, expected: &str, found: &Value) -> SchemaError {
        SchemaError::invalid(
            self.path_of(name),
            format!("expected {expected}, found {}", kind_of(found)),
        )
    }

    /// `Edm.String`. U+0000 is refused: no database text column can hold it.
    pub fn string(&self, name: &str) -> Result<Option<String>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.contains('\0') => Err(SchemaError::invalid(
                self.path_of(name),
                "the character U+0000 is not allowed",
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(name, "a string", other)),
        }
    }

    /// `Edm.Guid`: the hyphenated 8-4-4-4-12 hexadecimal form.
    pub fn guid(&self, name: &str) -> Result<Option<Uuid>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => match Uuid::try_parse(s) {
                Ok(id) if s.len() == 36 => Ok(Some(id)),
                _ => Err(SchemaError::invalid(
                    self.path_of(name),
                    format!(
                        "'{}' is not a GUID (expected the form 00000000-0000-0000-0000-000000000000)",
                        shorten(s)
                    ),
                )),
            },
            Some(other) => Err(self.wrong(name, "a GUID string", other)),
        }
    }

    /// `Edm.Int32`. An integral number written with a fraction (`5.0`) is
    /// the same number and is taken.
    pub fn int32(&self, name: &str) -> Result<Option<i32>, SchemaError> {
        self.integer(name, "an Int32 number")?
            .map(|n| {
                i32::try_from(n).map_err(|_| {
                    SchemaError::invalid(self.path_of(name), "the number is out of the Int32 range")
                })
            })
            .transpose()
    }

    /// `Edm.Int64`: a JSON number, or a string holding a decimal integer as
    /// OData clients send Int64 values under `IEEE754Compatible=true` (so that
    /// JavaScript's doubles lose no digits).
    pub fn int64(&self, name: &str) -> Result<Option<i64>, SchemaError> {
        match self.get(name) {
            Some(Value::String(s)) => parse_int64(s).map(Some).ok_or_else(|| {
                SchemaError::invalid(
                    self.path_of(name),
                    format!("'{}' is not an Int64 number", shorten(s)),
                )
            }),
            _ => self.integer(name, "an Int64 number"),
        }
    }

    fn integer(&self, name: &str, expected: &str) -> Result<Option<i64>, SchemaError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let Value::Number(n) = value else {
            return Err(self.wrong(name, expected, value));
        };
        if let Some(i) = n.as_i64() {
            return Ok(Some(i));
        }
        match n.as_f64() {
            // `i64::MAX as f64` is 2^63, the first float outside i64.
            Some(f) if f.fract() == 0.0 && f.abs() < i64::MAX as f64 => Ok(Some(f as i64)),
            Some(f) if f.fract() == 0.0 || n.is_u64() => Err(SchemaError::invalid(
                self.path_of(name),
                format!("the number is out of range for {expected}"),
            )),
            _ => Err(SchemaError::invalid(
                self.path_of(name),
                format!("expected {expected}, found a fractional number"),
            )),
        }
    }

    /// `Edm.Double`.
    pub fn double(&self, name: &str) -> Result<Option<f64>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(self.wrong(name, "a number", other)),
        }
    }

    /// `Edm.Duration`, in ISO 8601 or Python `timedelta` form.
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => duration::parse(s).map(Some).map_err(|e| {
                SchemaError::invalid(self.path_of(name), format!("'{}': {e}", shorten(s)))
            }),
            Some(other) => Err(self.wrong(name, "a duration string", other)),
        }
    }

    /// A collection property.
    pub fn array(&self, name: &str) -> Result<Option<&'a Vec<Value>>, SchemaError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(name, "an array", other)),
        }
    }
}

/// An Int64 written as a string: an optional `-` and decimal digits, nothing
/// else (no `+`, blanks, fraction or exponent), within the Int64 range.
fn parse_int64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What a JSON value is, for messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Client text quoted in a message, cut so that an error stays short.
fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with<T>(value: Value, read: impl FnOnce(&Object) -> T) -> T {
        let root = json!({ "p": value });
        let object = Object::at(&root, "q").unwrap();
        read(&object)
    }

    #[test]
    fn null_and_absent_are_unset_and_required_names_the_path() {
        assert_eq!(with(json!(null), |o| o.string("p")), Ok(None));
        let root = json!({});
        let o = Object::at(&root, "quality").unwrap();
        assert_eq!(
            o.require::<String>("deviceName", None)
                .unwrap_err()
                .to_string(),
            "The property 'quality.deviceName' is required and cannot be null."
        );
    }

    #[test]
    fn guids_must_be_hyphenated() {
        let id = "0622673d-9f69-49b3-9d4f-5ec64f42ecce";
        assert_eq!(
            with(json!(id), |o| o.guid("p")).unwrap(),
            Some(id.parse().unwrap())
        );
        assert_eq!(
            with(json!(id.to_uppercase()), |o| o.guid("p")).unwrap(),
            Some(id.parse().unwrap())
        );
        for bad in [
            json!("0622673d9f6949b39d4f5ec64f42ecce"),
            json!("{0622673d-9f69-49b3-9d4f-5ec64f42ecce}"),
            json!("not-a-guid"),
            json!(""),
            json!(42),
        ] {
            let e = with(bad.clone(), |o| o.guid("p")).unwrap_err();
            assert!(e.to_string().contains("'q.p'"), "{bad}: {e}");
        }
    }

    #[test]
    fn integers_are_checked_by_type_and_range() {
        assert_eq!(with(json!(6300), |o| o.int32("p")), Ok(Some(6300)));
        assert_eq!(with(json!(5.0), |o| o.int32("p")), Ok(Some(5)));
        assert_eq!(with(json!(-1), |o| o.int64("p")), Ok(Some(-1)));
        assert!(with(json!(2_147_483_648i64), |o| o.int32("p")).is_err());
        assert!(with(json!(1.5), |o| o.int64("p")).is_err());
        assert!(with(json!(u64::MAX), |o| o.int64("p")).is_err());
        assert!(with(json!(1e300), |o| o.int64("p")).is_err());
        // Int64 as a string (OData IEEE754Compatible=true); Int32 never.
        assert_eq!(with(json!("5"), |o| o.int64("p")), Ok(Some(5)));
        assert_eq!(
            with(json!("-9223372036854775808"), |o| o.int64("p")),
            Ok(Some(i64::MIN))
        );
        for bad in [
            "",
            "-",
            "+5",
            " 5",
            "5.0",
            "1e3",
            "0x10",
            "9223372036854775808",
            "five",
        ] {
            let e = with(json!(bad), |o| o.int64("p")).unwrap_err();
            assert!(e.to_string().contains("'q.p'"), "{bad}: {e}");
        }
        assert!(with(json!("5"), |o| o.int32("p")).is_err());
        assert!(with(json!(true), |o| o.int32("p")).is_err());
    }

    #[test]
    fn doubles_durations_strings_and_arrays() {
        assert_eq!(with(json!(0.01), |o| o.double("p")), Ok(Some(0.01)));
        assert_eq!(with(json!(5), |o| o.double("p")), Ok(Some(5.0)));
        assert!(with(json!("0.01"), |o| o.double("p")).is_err());
        assert_eq!(
            with(json!("PT0.03S"), |o| o.duration("p")).map(|d| d.map(|d| d.as_millis_f64())),
            Ok(Some(30.0))
        );
        let e = with(json!("30ms"), |o| o.duration("p")).unwrap_err();
        assert!(
            e.to_string().contains("'q.p'") && e.to_string().contains("30ms"),
            "{e}"
        );
        assert!(with(json!(30), |o| o.duration("p")).is_err());
        assert!(with(json!("a\u{0}b"), |o| o.string("p")).is_err());
        assert!(with(json!({}), |o| o.array("p").is_err()));
        assert_eq!(
            with(json!([]), |o| o.array("p").map(|a| a.map(Vec::len))),
            Ok(Some(0))
        );
    }

    #[test]
    fn long_client_text_is_shortened_in_messages() {
        let long = "x".repeat(10_000);
        let e = with(json!(long), |o| o.guid("p")).unwrap_err().to_string();
        assert!(e.len() < 300, "{e}");
    }
}
