//! Addresses as a spec writes them (sources, fonts, captions, outputs), parsed once.

use std::path::PathBuf;

/// An address as a spec writes it (a source, a font, an output), parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A local path, relative to the spec's directory unless absolute.
    Local(PathBuf),
    /// An `http://` or `https://` URL.
    Http(url::Url),
    /// An object in a store: `s3://`, `gs://` or `az://`.
    Object(String),
}

impl Address {
    /// Parse an address the spec's validation accepted (see `check_src`).
    pub fn parse(s: &str) -> std::result::Result<Address, String> {
        match scheme_of(s) {
            None => Ok(Address::Local(PathBuf::from(s))),
            Some("http" | "https") => {
                url::Url::parse(s).map(Address::Http).map_err(|e| format!("not a valid URL: {e}"))
            }
            Some("s3" | "gs" | "az") => Ok(Address::Object(s.to_string())),
            Some(other) => Err(format!("unsupported scheme {other:?}")),
        }
    }
}

/// Whether `s` names an object in a store (`s3://`, `gs://`, `az://`).
pub fn is_object(s: &str) -> bool {
    matches!(scheme_of(s), Some("s3" | "gs" | "az"))
}

/// The URL scheme of `s`, if it has one (a Windows drive letter is not a scheme).
pub fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    (scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
    .then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(matches!(Address::parse("clips/a.mp4"), Ok(Address::Local(_))));
        assert!(matches!(Address::parse("https://h/a.mp4"), Ok(Address::Http(_))));
        assert!(matches!(Address::parse("s3://b/a.mp4"), Ok(Address::Object(_))));
        assert!(Address::parse("ftp://h/a").is_err());
        assert!(is_object("gs://b/k") && !is_object("https://h/k") && scheme_of("C:\\x").is_none());
    }
}
