//! Shared character-level helpers, kept in one place so that every
//! normalizer folds width and whitespace the same way.

/// Maps a full-width form (U+FF01..=U+FF5E) to its ASCII twin and the
/// ideographic space U+3000 to a plain space, because department systems fed
/// by Chinese input methods mix both widths freely.
#[inline]
pub fn half_width_char(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// [`half_width_char`] over a whole string.
pub fn to_half_width(s: &str) -> String {
    s.chars().map(half_width_char).collect()
}

/// Whitespace in the Unicode sense plus the invisible characters (zero-width
/// space/joiners, word joiner, BOM, soft hyphen) that copy-paste from web
/// forms and Word documents leaves behind.
#[inline]
pub fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}'
                | '\u{200C}'
                | '\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{180E}'
        )
}

/// Removes every [`is_blank`] character.
pub fn remove_blanks(s: &str) -> String {
    s.chars().filter(|&c| !is_blank(c)).collect()
}

/// Half-width and blank-free in one pass: the usual first step for codes and
/// numbers, where no whitespace is ever meaningful.
pub fn compact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !is_blank(c) {
            out.push(half_width_char(c));
        }
    }
    out
}

/// Whether `c` is a CJK ideograph (unified, extensions, compatibility) or
/// the ideographic zero `〇`, i.e. something that can be a Chinese name or
/// address character.
#[inline]
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EBEF}'
        | '\u{2F800}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_folds_to_ascii() {
        assert_eq!(to_half_width("ＡＢＣ１２３ｘ（）－"), "ABC123x()-");
        assert_eq!(to_half_width("李\u{3000}明"), "李 明");
        assert_eq!(to_half_width("张伟"), "张伟");
    }

    #[test]
    fn blanks_include_invisible_characters() {
        assert_eq!(remove_blanks(" 张\u{3000}伟\u{200B}\t\n\u{FEFF}"), "张伟");
        assert_eq!(compact(" １ ２\u{3000}3 "), "123");
    }

    #[test]
    fn cjk_detection() {
        assert!(is_cjk('张'));
        assert!(is_cjk('〇'));
        assert!(is_cjk('\u{20000}'));
        assert!(!is_cjk('A'));
        assert!(!is_cjk('·'));
        assert!(!is_cjk('，'));
    }

    proptest! {
        #[test]
        fn helpers_never_panic(s in "\\PC*") {
            let h = to_half_width(&s);
            prop_assert_eq!(h.chars().count(), s.chars().count());
            let c = compact(&s);
            prop_assert!(!c.chars().any(is_blank));
        }
    }
}
