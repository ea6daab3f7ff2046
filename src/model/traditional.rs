//! Traditional → simplified folding, character by character, so that 張偉
//! typed in a Hong Kong or Taiwan form matches 张伟 from the mainland system.
//!
//! The table lives in `data/traditional.txt` (see its header for provenance).
//! Word-level conversion is deliberately not attempted: names and addresses
//! rarely have context to disambiguate, and a character-level fold is
//! predictable.

use std::sync::LazyLock;

static TABLE_TEXT: &str = include_str!("data/traditional.txt");

/// The pairs sorted by traditional character, plus a bitmap of which BMP
/// characters have an entry so the common case (already simplified) is one
/// bit test.
struct Table {
    pairs: Vec<(char, char)>,
    bmp: Vec<u64>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut pairs: Vec<(char, char)> = TABLE_TEXT
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut chars = l.chars().filter(|c| !c.is_whitespace());
            Some((chars.next()?, chars.next()?))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup_by_key(|p| p.0);
    let mut bmp = vec![0u64; 0x10000 / 64];
    for &(t, _) in &pairs {
        let i = t as usize;
        if let Some(word) = bmp.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }
    Table { pairs, bmp }
});

/// The simplified form of `c`, or `c` itself when it has none.
#[inline]
pub fn simplify_char(c: char) -> char {
    // Every traditional character in the table is outside ASCII and Latin-1.
    if (c as u32) < 0x2E80 {
        return c;
    }
    let table = &*TABLE;
    let i = c as usize;
    if let Some(word) = table.bmp.get(i / 64) {
        if word & (1 << (i % 64)) == 0 {
            return c;
        }
    }
    match table.pairs.binary_search_by_key(&c, |p| p.0) {
        Ok(i) => table.pairs.get(i).map_or(c, |p| p.1),
        Err(_) => c,
    }
}

/// [`simplify_char`] over a whole string.
pub fn simplify(s: &str) -> String {
    s.chars().map(simplify_char).collect()
}

/// Number of character pairs in the table (reported in docs and tests).
pub fn table_len() -> usize {
    TABLE.pairs.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_surnames_and_given_names_fold() {
        assert_eq!(
            simplify("張劉陳黃趙歐陽鄭謝蕭鍾馬楊吳孫許華麗國東龍鳳偉紅軍"),
            "张刘陈黄赵欧阳郑谢萧钟马杨吴孙许华丽国东龙凤伟红军"
        );
    }

    #[test]
    fn simplified_and_other_text_is_unchanged() {
        assert_eq!(simplify("张伟 Li Ming 123·"), "张伟 Li Ming 123·");
        // Standard simplified characters that older tables wrongly fold.
        assert_eq!(simplify("乾於甯磐"), "乾於甯磐");
        assert_eq!(simplify("瀋陽"), "沈阳");
    }

    #[test]
    fn table_is_reasonably_large_and_has_no_chains() {
        assert!(table_len() > 2500);
        for &(_, s) in TABLE.pairs.iter() {
            assert_eq!(simplify_char(s), s, "chain through {s}");
        }
    }
}
