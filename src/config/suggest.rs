//! "Did you mean …?" for misspelt keys, field names and transform names.

/// The closest candidate to `word`, if one is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// `"; did you mean `x`?"`, or nothing when no candidate is close.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["upper_threshold", "lower_threshold", "store"];
        assert_eq!(closest("uper_threshold", keys), Some("upper_threshold"));
        assert_eq!(closest("lower_treshold", keys), Some("lower_threshold"));
        assert_eq!(closest("zzz", keys), None);
        assert_eq!(did_you_mean("stor", keys), "; did you mean `store`?");
    }
}
