//! Privacy masking for logs and CLI output: enough of a value stays visible
//! for an operator to recognize it, never enough to read it off. Works on
//! raw, invalid input too, and never panics.

use super::phone::Phone;

/// Keeps `first` leading and `last` trailing characters, stars the rest.
fn mask_chars(chars: &[char], first: usize, last: usize) -> String {
    let n = chars.len();
    let first = first.min(n);
    let last = last.min(n - first);
    let mut out = String::with_capacity(n + 8);
    out.extend(&chars[..first]);
    out.extend(std::iter::repeat_n('*', n - first - last));
    out.extend(&chars[n - last..]);
    out
}

/// Generic rule: about the first third and the last 2–4 characters, never
/// more than half of the value.
fn mask_generic(chars: &[char]) -> String {
    let n = chars.len();
    let budget = n / 2;
    let first = (n / 3).min(budget);
    let last = match n {
        12.. => 4,
        8..=11 => 3,
        _ => 2,
    }
    .min(budget - first);
    mask_chars(chars, first, last)
}

/// `33021119850101123X` → `330211********123X` (area code and the last four
/// visible, as on Chinese government forms); other lengths use the generic
/// rule, which never shows more than half.
pub fn mask_id_number(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    if chars.len() == 18 {
        mask_chars(&chars, 6, 4)
    } else {
        mask_generic(&chars)
    }
}

/// `13812345678` → `138****5678`, `0574-87654321` → `0574-****4321`;
/// anything unrecognized gets the generic rule.
pub fn mask_phone(s: &str) -> String {
    match Phone::parse(s) {
        Phone::Mobile(m) => {
            let chars: Vec<char> = m.chars().collect();
            mask_chars(&chars, 3, 4)
        }
        Phone::Landline {
            area_code, number, ..
        } => {
            let chars: Vec<char> = number.chars().collect();
            format!("{area_code}-{}", mask_chars(&chars, 0, 4))
        }
        Phone::Unrecognized(raw) => {
            let chars: Vec<char> = raw.chars().collect();
            mask_generic(&chars)
        }
    }
}

/// `张伟` → `张*`, `欧阳修` → `欧**`: the first character only.
pub fn mask_name(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        _ => mask_chars(&chars, 1, 0),
    }
}

/// Masks every run of 7 or more digits (an identity number may end in `X`)
/// inside free text such as a quarantine reason or a raw value shown to an
/// operator: 18-character runs as identity numbers, 11-digit runs as mobiles,
/// anything else by the generic rule.
pub fn mask_digits_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i < chars.len() && matches!(chars[i], 'X' | 'x') && i - start == 17 {
            i += 1;
        }
        let run = &chars[start..i];
        if run.len() < 7 {
            out.extend(run);
        } else if run.len() == 18 {
            out.push_str(&mask_chars(run, 6, 4));
        } else if run.len() == 11 {
            out.push_str(&mask_chars(run, 3, 4));
        } else {
            out.push_str(&mask_generic(run));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn id_numbers() {
        assert_eq!(mask_id_number("33021119850101123X"), "330211********123X");
        assert_eq!(mask_id_number("110105491231002"), "11010********02");
        assert_eq!(mask_id_number("E12345678"), "E12*****8");
        assert_eq!(mask_id_number(""), "");
        assert_eq!(mask_id_number("1"), "*");
        assert_eq!(mask_id_number("12"), "*2");
        assert_eq!(mask_id_number("张三的身份证号码"), "张三****号码");
    }

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+86 138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("0574-87654321"), "0574-****4321");
        assert_eq!(mask_phone("0574-87654321转123"), "0574-****4321");
        assert_eq!(mask_phone("12345"), "1***5");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn names() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("欧阳修"), "欧**");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_name(""), "");
    }

    proptest! {
        #[test]
        fn never_reveals_more_than_half(s in prop_oneof!["\\PC{0,30}", "[0-9Xx]{0,20}"]) {
            let n = s.trim().chars().count();
            let masked = mask_id_number(&s);
            prop_assert_eq!(masked.chars().count(), n);
            let shown = masked.chars().filter(|&c| c != '*').count();
            if n != 18 {
                prop_assert!(shown <= n / 2, "{} -> {}", s, masked);
            }
            let _ = mask_phone(&s);
            let _ = mask_name(&s);
        }
    }

    #[test]
    fn digits_in_text_are_masked() {
        assert_eq!(
            mask_digits_in_text("id 33021119850101123X, tel 13812345678; room 502"),
            "id 330211********123X, tel 138****5678; room 502"
        );
        assert_eq!(mask_digits_in_text("abc"), "abc");
        assert_eq!(mask_digits_in_text("1234567"), "12****7");
        assert_eq!(mask_digits_in_text("张三"), "张三");
    }
}
