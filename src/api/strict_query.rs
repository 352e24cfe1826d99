//! The read API's query-string parser: serde into a `#[derive(Deserialize,
//! IntoParams)]` struct, with the strictness the structs alone cannot give.
//!
//! - A parameter the struct does not document is a 400 naming it, because a
//!   silently ignored typo (`protocl=plivo`) would return unfiltered data
//!   that looks like an answer. The list of known names is the struct's
//!   `IntoParams` list, so the parser and `/openapi.json` cannot disagree.
//! - A parameter given twice is a 400 naming it (serde_urlencoded would
//!   keep one of them silently).
//! - Values are trimmed, and an empty value counts as absent, so URL
//!   templates with blanks (`protocol=`) work.
//! - A value that does not deserialize is a 400 naming its parameter, with
//!   the field type's own message.
//!
//! Every value is text: field types deserialize from a string (numbers and
//! times are parsed by the field types in `params`), enums by their names.
//! The pairs are split and percent-decoded by axum's `Query`
//! (serde_urlencoded, already used by axum), so no other parser is added.

use std::collections::HashSet;
use std::fmt;

use axum::extract::Query;
use axum::http::Uri;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use utoipa::IntoParams;

use super::error::ApiError;

/// Parses the query string of `uri` into `T`; every error names a parameter
/// (`query` when the string itself is malformed).
pub fn parse<T: DeserializeOwned + IntoParams>(uri: &Uri) -> Result<T, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad("query", format!("the query string is malformed: {e}")))?;
    let known: HashSet<String> = T::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut seen = HashSet::new();
    for (name, _) in &pairs {
        if !known.contains(name) {
            return Err(ApiError::bad(name, format!("unknown parameter `{name}`")));
        }
        if !seen.insert(name.as_str()) {
            return Err(ApiError::bad(
                name,
                format!("`{name}` is given more than once"),
            ));
        }
    }
    let present: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(name, value)| (name, value.trim().to_owned()))
        .filter(|(_, value)| !value.is_empty())
        .collect();
    T::deserialize(Pairs {
        pairs: present.into_iter(),
        current: None,
    })
    .map_err(|e| match e.parameter {
        Some(parameter) => ApiError::bad(&parameter, e.message),
        None => ApiError::bad("query", e.message),
    })
}

/// A deserialization failure, with the parameter whose value caused it.
#[derive(Debug)]
pub struct ParamError {
    parameter: Option<String>,
    message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParamError {}

impl de::Error for ParamError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        ParamError {
            parameter: None,
            message: message.to_string(),
        }
    }
}

/// The (name, value) pairs as a serde map of strings.
struct Pairs {
    pairs: std::vec::IntoIter<(String, String)>,
    current: Option<(String, String)>,
}

impl<'de> de::Deserializer<'de> for Pairs {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Pairs {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        match self.pairs.next() {
            None => Ok(None),
            Some((name, value)) => {
                let key = seed.deserialize(StrDeserializer::<ParamError>::new(&name))?;
                self.current = Some((name, value));
                Ok(Some(key))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamError> {
        let (name, value) = self
            .current
            .take()
            .ok_or_else(|| de::Error::custom("a value without its name"))?;
        seed.deserialize(Text(&value)).map_err(|mut e| {
            e.parameter.get_or_insert(name);
            e
        })
    }
}

/// One parameter's value: a string, a present `Option`, or an enum's name.
struct Text<'a>(&'a str);

impl<'de> de::Deserializer<'de> for Text<'_> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        // Absent and empty values never reach here.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_enum(IntoDeserializer::<ParamError>::into_deserializer(self.0))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}
