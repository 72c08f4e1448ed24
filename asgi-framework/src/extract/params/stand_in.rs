//! [`StandIn`]: a neutral value of any requested type, for a field already
//! found invalid while the others are checked.

use serde::de::{self, Visitor};

use super::ParamError;

/// Deserializes as the plainest value of the type asked for: `0`, `false`,
/// `""`, `None`, an empty sequence or map, unit, the first enum variant.
///
/// Its value is never used: it only lets the target's other fields be
/// checked. A type that refuses it (a fixed-length tuple, a struct with
/// required fields, a non-unit first variant) ends the search for errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct StandIn;

macro_rules! stand_in_numbers {
    ($($method:ident => $visit:ident($zero:expr);)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
            visitor.$visit($zero)
        })*
    };
}

impl<'de> de::Deserializer<'de> for StandIn {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    stand_in_numbers! {
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i8(0);
        deserialize_i16 => visit_i16(0);
        deserialize_i32 => visit_i32(0);
        deserialize_i64 => visit_i64(0);
        deserialize_i128 => visit_i128(0);
        deserialize_u8 => visit_u8(0);
        deserialize_u16 => visit_u16(0);
        deserialize_u32 => visit_u32(0);
        deserialize_u64 => visit_u64(0);
        deserialize_u128 => visit_u128(0);
        deserialize_f32 => visit_f32(0.0);
        deserialize_f64 => visit_f64(0.0);
        deserialize_char => visit_char('0');
        deserialize_str => visit_str("");
        deserialize_string => visit_str("");
        deserialize_identifier => visit_str("");
        deserialize_bytes => visit_bytes(&[]);
        deserialize_byte_buf => visit_bytes(&[]);
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_none()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<()>()))
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

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(de::value::MapDeserializer::new(
            std::iter::empty::<((), ())>(),
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(de::IntoDeserializer::<ParamError>::into_deserializer(first))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    enum Color {
        Red,
        Green,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Fields {
        n: u32,
        f: f64,
        s: String,
        b: bool,
        o: Option<u8>,
        v: Vec<String>,
        c: Color,
    }

    #[test]
    fn stands_in_for_common_field_types() {
        let value = (
            u32::deserialize(StandIn),
            String::deserialize(StandIn),
            Option::<i64>::deserialize(StandIn),
            Vec::<u8>::deserialize(StandIn),
            Color::deserialize(StandIn),
        );

        assert_eq!(
            value,
            (
                Ok(0),
                Ok(String::new()),
                Ok(None),
                Ok(vec![]),
                Ok(Color::Red)
            )
        );
        assert!(
            Fields::deserialize(StandIn).is_err(),
            "required fields are missing"
        );
        assert_ne!(Color::Green, Color::Red);
    }
}
