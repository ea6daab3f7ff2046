//! The canonical resident record and its normalizers.
//!
//! Pure: no I/O, no clock, no logging, no global mutable state. Every
//! normalizer accepts any string without panicking; what cannot be
//! standardized is kept as typed together with a reason, never silently
//! "fixed", because the matcher and the data steward need to see it.

pub mod address;
pub mod date;
pub mod ethnicity;
pub mod id_number;
pub mod mask;
pub mod name;
pub mod phone;
pub mod record;
pub mod relationship;
pub mod sex;
pub mod text;
pub mod traditional;

pub use address::Address;
pub use date::{DateError, DatePrecision, PartialDate};
pub use ethnicity::{Ethnicity, EthnicityError};
pub use id_number::{
    check_digit, DocumentType, IdDocument, IdNumberProblem, InvalidIdNumber, ValidIdNumber,
};
pub use mask::{mask_digits_in_text, mask_id_number, mask_name, mask_phone};
pub use name::{NameProblem, PersonName};
pub use phone::{parse_phones, parse_phones_with_area, Phone};
pub use record::{FieldProblem, ResidentRecord};
pub use relationship::{Relationship, RelationshipError};
pub use sex::{Sex, SexError};
