//! A serde deserializer over string pairs (path, query, form, headers) that
//! reports failures per field, with pydantic's types and messages.
//!
//! Values are strings, so each `deserialize_*` knows the type asked for and
//! parses it: a failure names the field, the input and pydantic's type
//! (`int_parsing`, `float_parsing`, `bool_parsing`, `missing`, ...).
//!
//! Every invalid field is reported, as FastAPI does, not only the first:
//! after a failure, deserialization runs again with a neutral stand-in value
//! (`0`, `""`, `false`, `None`, empty) for each field found invalid or
//! missing so far, until no new field fails. Valid input never gets there.

mod error;
mod stand_in;

pub(crate) use self::error::{InvalidParams, ParamError};

use std::cell::Cell;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use self::stand_in::StandIn;

/// Delegates a scalar request on the whole set to its single value.
macro_rules! single_value {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
            if self.single_is_stand_in() {
                return StandIn.$method(visitor);
            }
            self.single()?.$method(visitor)
        })*
    };
}

/// One name-value pair, however its strings are held: owned (path
/// parameters, form fields) or borrowed from the request when nothing had to
/// be decoded (query strings, see [`super::parse_query`]).
pub(crate) trait Pair {
    /// The name.
    fn key(&self) -> &str;
    /// The value.
    fn value(&self) -> &str;
}

impl<K: AsRef<str>, V: AsRef<str>> Pair for (K, V) {
    fn key(&self) -> &str {
        self.0.as_ref()
    }

    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

/// Deserializes `T` from `pairs`, reporting every invalid field at
/// `[location, name]`.
///
/// Nothing here allocates on the way to a valid value: keys, values and the
/// values of a repeated key are walked in place (this runs for every
/// `Path`/`Query` extraction, so it stays off the allocator).
pub(crate) fn from_pairs<T: DeserializeOwned, P: Pair>(
    pairs: &[P],
    location: &'static str,
) -> Result<T, InvalidParams> {
    match T::deserialize(Pairs::new(pairs, location, NoStandIns)) {
        Ok(value) => Ok(value),
        Err(first) => Err(every_error::<T, P>(pairs, location, first)),
    }
}

/// At most this many runs look for further invalid fields.
const MAX_RUNS: usize = 64;

/// The errors of `pairs` beyond `first`: runs again with a stand-in for
/// each field that failed (or was missing), until a run adds no new field.
#[cold]
fn every_error<T: DeserializeOwned, P: Pair>(
    pairs: &[P],
    location: &'static str,
    first: ParamError,
) -> InvalidParams {
    let mut stand_ins = StandIns::default();
    let mut errors = vec![first];
    for _ in 0..MAX_RUNS {
        let Some(key) = errors.last().and_then(ParamError::key) else {
            break;
        };
        stand_ins.keys.push(key.to_owned());
        match T::deserialize(Pairs::new(pairs, location, &stand_ins)) {
            Ok(_) => break,
            // A field not failed before; an error without a field, or about
            // a stand-in, comes from the stand-ins and ends the search.
            Err(error) if error.key().is_some_and(|key| !stand_ins.has(key)) => {
                errors.push(error);
            }
            Err(_) => break,
        }
    }
    // pydantic reports in the order fields are declared.
    let fields = stand_ins.fields.get();
    errors.sort_by_key(|error| {
        let key = error.key().unwrap_or_default();
        fields
            .iter()
            .position(|field| *field == key)
            .unwrap_or(fields.len())
    });
    for error in &mut errors {
        error.set_location(location);
    }
    InvalidParams::new(errors)
}

/// The fields given a stand-in value, and the fields of the target struct
/// (recorded by the run, for the order of the errors).
#[derive(Default)]
struct StandIns {
    keys: Vec<String>,
    fields: Cell<&'static [&'static str]>,
}

impl StandIns {
    fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }
}

/// Which fields get a stand-in value: none on the first run ([`NoStandIns`],
/// whose checks compile away, so valid input pays nothing for the search),
/// the fields found invalid so far on later runs.
trait Substitutes<'a>: Copy {
    /// Whether field `key` gets a stand-in value.
    fn has(self, key: &str) -> bool;
    /// Every field that gets one.
    fn keys(self) -> &'a [String];
    /// Records the target's fields, in declaration order.
    fn record_fields(self, fields: &'static [&'static str]);
}

/// The first run: every field is read from the pairs.
#[derive(Debug, Clone, Copy)]
struct NoStandIns;

impl<'a> Substitutes<'a> for NoStandIns {
    fn has(self, _key: &str) -> bool {
        false
    }

    fn keys(self) -> &'a [String] {
        &[]
    }

    fn record_fields(self, _fields: &'static [&'static str]) {}
}

impl<'a> Substitutes<'a> for &'a StandIns {
    fn has(self, key: &str) -> bool {
        StandIns::has(self, key)
    }

    fn keys(self) -> &'a [String] {
        &self.keys
    }

    fn record_fields(self, fields: &'static [&'static str]) {
        self.fields.set(fields);
    }
}

/// The whole set of pairs: a struct, map, tuple or single value.
struct Pairs<'a, P, S> {
    pairs: &'a [P],
    location: &'static str,
    stand_ins: S,
}

impl<'a, P, S> Pairs<'a, P, S> {
    fn new(pairs: &'a [P], location: &'static str, stand_ins: S) -> Self {
        Self {
            pairs,
            location,
            stand_ins,
        }
    }
}

impl<'de, 'a, P: Pair, S: Substitutes<'a>> de::Deserializer<'de> for Pairs<'a, P, S> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(Fields {
            pairs: self.pairs,
            position: 0,
            current: None,
            stand_ins: self.stand_ins,
            extra: 0,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        self.stand_ins.record_fields(fields);
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_seq(Items::All(self.pairs, self.stand_ins))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        if self.pairs.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        if self.single_is_stand_in() {
            return StandIn.deserialize_enum(name, variants, visitor);
        }
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    single_value! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_identifier
    }
}

/// Pairs with a single value: a lone path parameter deserializes as that value.
impl<'a, P: Pair, S: Substitutes<'a>> Pairs<'a, P, S> {
    /// Whether the single value is a field that failed before.
    fn single_is_stand_in(&self) -> bool {
        match self.pairs {
            [pair] => self.stand_ins.has(pair.key()),
            _ => false,
        }
    }

    fn single(&self) -> Result<Field<'a, P>, ParamError> {
        match self.pairs {
            [pair] => Ok(Field {
                key: pair.key(),
                values: Values::One(pair.value()),
            }),
            _ => Err(de::Error::custom(format!(
                "expected exactly one {} parameter, found {}",
                self.location,
                self.pairs.len()
            ))),
        }
    }
}

/// The distinct keys of the pairs, in order of first appearance.
struct Fields<'a, P, S> {
    pairs: &'a [P],
    /// The next pair to look at for a key not seen before.
    position: usize,
    current: Option<&'a str>,
    stand_ins: S,
    /// The next stand-in to look at once the pairs are done: a missing
    /// field that failed before is given too.
    extra: usize,
}

impl<'de, 'a, P: Pair, S: Substitutes<'a>> de::MapAccess<'de> for Fields<'a, P, S> {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        // A key repeated later is skipped: its first appearance stands for
        // all its values (a quadratic scan, over the handful of pairs a
        // request has, instead of a set).
        let pairs = self.pairs;
        while let Some(pair) = pairs.get(self.position) {
            self.position += 1;
            let key = pair.key();
            if pairs[..self.position - 1].iter().any(|p| p.key() == key) {
                continue;
            }
            self.current = Some(key);
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
        let stand_ins = self.stand_ins.keys();
        while let Some(key) = stand_ins.get(self.extra) {
            self.extra += 1;
            if pairs.iter().any(|p| p.key() == key) {
                continue;
            }
            self.current = Some(key);
            return seed.deserialize(key.as_str().into_deserializer()).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamError> {
        let key = self.current.take().unwrap_or_default();
        if self.stand_ins.has(key) {
            return seed.deserialize(StandIn);
        }
        seed.deserialize(Field {
            key,
            values: Values::Matching(self.pairs),
        })
    }
}

/// The elements of a sequence: every pair, or the values of one key.
enum Items<'a, P, S> {
    /// Every pair, each an element (a tuple of path parameters).
    All(&'a [P], S),
    /// The pairs whose key is `.1` (a repeated query key).
    Matching(&'a [P], &'a str),
    /// A single value (not yet taken).
    One(Option<(&'a str, &'a str)>),
}

impl<'de, 'a, P: Pair, S: Substitutes<'a>> de::SeqAccess<'de> for Items<'a, P, S> {
    type Error = ParamError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParamError> {
        let next = match self {
            Items::All(pairs, stand_ins) => {
                let Some((pair, rest)) = pairs.split_first() else {
                    return Ok(None);
                };
                *pairs = rest;
                if stand_ins.has(pair.key()) {
                    return seed.deserialize(StandIn).map(Some);
                }
                Some((pair.key(), pair.value()))
            }
            Items::Matching(pairs, key) => {
                let key = *key;
                let found = pairs.iter().position(|p| p.key() == key);
                found.map(|i| {
                    let pair = &pairs[i];
                    *pairs = &pairs[i + 1..];
                    (key, pair.value())
                })
            }
            Items::One(one) => one.take(),
        };
        let Some((key, value)) = next else {
            return Ok(None);
        };
        seed.deserialize(Field {
            key,
            values: Values::<P>::One(value),
        })
        .map(Some)
    }
}

/// Where the value(s) of one key are.
enum Values<'a, P> {
    /// Exactly this one.
    One(&'a str),
    /// The values of every pair with the field's key, in order.
    Matching(&'a [P]),
}

/// The value(s) of one key. Scalars take the last value, as Starlette's
/// `QueryParams` does; sequences take them all.
struct Field<'a, P> {
    key: &'a str,
    values: Values<'a, P>,
}

impl<'a, P: Pair> Field<'a, P> {
    fn last(&self) -> &'a str {
        match self.values {
            Values::One(value) => value,
            Values::Matching(pairs) => pairs
                .iter()
                .rev()
                .find(|p| p.key() == self.key)
                .map(Pair::value)
                .unwrap_or_default(),
        }
    }

    fn fail(&self, kind: &str, message: &str) -> ParamError {
        ParamError::new(kind, message).at(self.key, self.last())
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident, $ty:ty, $kind:literal, $msg:expr;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
            match self.last().parse::<$ty>() {
                Ok(value) => visitor.$visit::<ParamError>(value).map_err(|e: ParamError| e.at(self.key, self.last())),
                Err(_) => Err(self.fail($kind, $msg)),
            }
        })*
    };
}

const INT: &str = "Input should be a valid integer, unable to parse string as an integer";
const FLOAT: &str = "Input should be a valid number, unable to parse string as a number";

impl<'de, P: Pair> de::Deserializer<'de> for Field<'_, P> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        // Borrowed: the visitor copies what it keeps (a `String` field), so
        // no intermediate copy of the input is made.
        let (key, input) = (self.key, self.last());
        visitor
            .visit_str::<ParamError>(input)
            .map_err(|e: ParamError| e.at(key, input))
    }

    parse_number! {
        deserialize_i8 => visit_i8, i8, "int_parsing", INT;
        deserialize_i16 => visit_i16, i16, "int_parsing", INT;
        deserialize_i32 => visit_i32, i32, "int_parsing", INT;
        deserialize_i64 => visit_i64, i64, "int_parsing", INT;
        deserialize_i128 => visit_i128, i128, "int_parsing", INT;
        deserialize_u8 => visit_u8, u8, "int_parsing", INT;
        deserialize_u16 => visit_u16, u16, "int_parsing", INT;
        deserialize_u32 => visit_u32, u32, "int_parsing", INT;
        deserialize_u64 => visit_u64, u64, "int_parsing", INT;
        deserialize_u128 => visit_u128, u128, "int_parsing", INT;
        deserialize_f32 => visit_f32, f32, "float_parsing", FLOAT;
        deserialize_f64 => visit_f64, f64, "float_parsing", FLOAT;
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        // pydantic's accepted spellings, case-insensitively.
        let value = match self.last().to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => true,
            "0" | "off" | "f" | "false" | "n" | "no" => false,
            _ => {
                return Err(self.fail(
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                ));
            }
        };
        visitor.visit_bool(value)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        // A field's own values: stand-ins are decided for the field as a whole.
        let items: Items<'_, P, NoStandIns> = match self.values {
            Values::One(value) => Items::One(Some((self.key, value))),
            Values::Matching(pairs) => Items::Matching(pairs, self.key),
        };
        visitor.visit_seq(items)
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
        let (key, input) = (self.key, self.last());
        let variant: de::value::StrDeserializer<'_, ParamError> = input.into_deserializer();
        visitor.visit_enum(variant).map_err(|e| e.at(key, input))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit_struct tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::validation::LocItem;
    use serde::Deserialize;
    use serde_json::Value;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Query {
        id: u32,
        q: Option<String>,
        flag: Option<bool>,
        #[serde(default)]
        tag: Vec<String>,
    }

    #[test]
    fn struct_fields_are_parsed_by_type() {
        let query: Query = from_pairs(
            &pairs(&[("id", "7"), ("flag", "yes"), ("tag", "a"), ("tag", "b")]),
            "query",
        )
        .unwrap();

        assert_eq!(
            query,
            Query {
                id: 7,
                q: None,
                flag: Some(true),
                tag: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn failures_name_the_field_and_input() {
        let cases = [
            (
                &[("id", "abc")][..],
                "int_parsing",
                "id",
                Value::String("abc".into()),
            ),
            (
                &[("id", "1"), ("flag", "maybe")][..],
                "bool_parsing",
                "flag",
                "maybe".into(),
            ),
            (&[("q", "x")][..], "missing", "id", Value::Null),
        ];
        for (input, kind, field, value) in cases {
            let error = from_pairs::<Query, _>(&pairs(input), "query")
                .unwrap_err()
                .into_details()
                .remove(0);

            assert_eq!(error.kind, kind);
            assert_eq!(
                error.loc,
                vec![LocItem::from("query"), LocItem::from(field)]
            );
            assert_eq!(error.input, value);
        }
    }

    #[test]
    fn single_values_and_tuples_come_from_path_params() {
        let id: u32 = from_pairs(&pairs(&[("id", "5")]), "path").unwrap();
        let both: (String, f64) = from_pairs(&pairs(&[("a", "x"), ("b", "2.5")]), "path").unwrap();
        let error = from_pairs::<(String, f64), _>(&pairs(&[("a", "x"), ("b", "y")]), "path")
            .unwrap_err()
            .into_details()
            .remove(0);

        assert_eq!(id, 5);
        assert_eq!(both, ("x".to_owned(), 2.5));
        assert_eq!(error.kind, "float_parsing");
        assert_eq!(error.loc, vec![LocItem::from("path"), LocItem::from("b")]);
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Filter {
        a: u32,
        b: bool,
        c: String,
        d: Option<f64>,
    }

    #[test]
    fn every_invalid_or_missing_field_is_reported_in_declaration_order() {
        let errors = from_pairs::<Filter, _>(&pairs(&[("d", "x"), ("b", "maybe")]), "query")
            .unwrap_err()
            .into_details();

        let found: Vec<(&str, &LocItem)> = errors.iter().map(|e| (&*e.kind, &e.loc[1])).collect();
        assert_eq!(
            found,
            [
                ("missing", &LocItem::from("a")),
                ("bool_parsing", &LocItem::from("b")),
                ("missing", &LocItem::from("c")),
                ("float_parsing", &LocItem::from("d")),
            ]
        );
        assert!(errors.iter().all(|e| e.loc[0] == LocItem::from("query")));
        assert_eq!(errors[1].input, Value::String("maybe".into()));
        assert_eq!(errors[0].input, Value::Null);
    }

    #[test]
    fn every_invalid_path_parameter_of_a_tuple_is_reported() {
        let errors = from_pairs::<(u32, f64), _>(&pairs(&[("a", "x"), ("b", "y")]), "path")
            .unwrap_err()
            .into_details();

        let found: Vec<(&str, &LocItem)> = errors.iter().map(|e| (&*e.kind, &e.loc[1])).collect();
        assert_eq!(
            found,
            [
                ("int_parsing", &LocItem::from("a")),
                ("float_parsing", &LocItem::from("b")),
            ]
        );
    }

    #[test]
    fn one_invalid_field_is_one_error() {
        let errors =
            from_pairs::<Filter, _>(&pairs(&[("a", "-1"), ("b", "yes"), ("c", "x")]), "query")
                .unwrap_err()
                .into_details();

        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, "int_parsing");
    }

    #[test]
    fn uuid_errors_use_pydantic_wording() {
        let error = from_pairs::<uuid::Uuid, _>(&pairs(&[("id", "nope")]), "path")
            .unwrap_err()
            .into_details()
            .remove(0);

        assert_eq!(error.kind, "uuid_parsing", "{}", error.msg);
        assert!(
            error.msg.starts_with("Input should be a valid UUID, "),
            "{}",
            error.msg
        );
        assert_eq!(error.input, Value::String("nope".into()));
    }
}
