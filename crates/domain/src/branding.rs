//! A tenant's look on the hosted pages: an accent colour and a logo. Both
//! are checked here so an operator's typo cannot make the pages unreadable
//! (a light accent behind white button text) or unsafe (a logo that is not
//! an image).

use serde::{Deserialize, Serialize};

/// The largest logo, as a data URL, in characters (48 KiB of image).
pub const MAX_LOGO_CHARS: usize = 64 * 1024;

/// The image types a logo may have.
const LOGO_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/svg+xml"];

/// The accent colour and logo of a tenant's pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    /// The accent colour as `#rrggbb`: buttons and links. It must keep a
    /// WCAG AA contrast (4.5:1) with white text.
    pub accent: Option<String>,
    /// The logo as a `data:image/…;base64,…` URL, shown beside the
    /// tenant's name. A data URL keeps the pages free of third-party
    /// requests and inside their content security policy.
    pub logo: Option<String>,
}

/// Why a branding setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandingError {
    /// Not `#rrggbb`.
    #[error("accent must be a colour written #rrggbb")]
    AccentFormat,
    /// White text on it would be hard to read.
    #[error("accent {0} is too light: white text on it has a contrast of {1}:1, below 4.5:1")]
    AccentContrast(String, String),
    /// Not a base64 data URL of a PNG, JPEG, WebP or SVG image, or too large.
    #[error("logo must be a data:image/(png|jpeg|webp|svg+xml);base64 URL of at most {MAX_LOGO_CHARS} characters")]
    Logo,
}

fn channel(hex: &str) -> Option<f64> {
    let v = f64::from(u8::from_str_radix(hex, 16).ok()?) / 255.0;
    Some(if v <= 0.039_28 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    })
}

/// The WCAG contrast ratio of white against `#rrggbb`.
fn contrast_with_white(colour: &str) -> Option<f64> {
    let hex = colour.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let (r, g, b) = (
        channel(&hex[0..2])?,
        channel(&hex[2..4])?,
        channel(&hex[4..6])?,
    );
    let luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    Some(1.05 / (luminance + 0.05))
}

impl Branding {
    /// Checks both settings.
    pub fn validate(&self) -> Result<(), BrandingError> {
        if let Some(accent) = &self.accent {
            let ratio = contrast_with_white(accent).ok_or(BrandingError::AccentFormat)?;
            if ratio < 4.5 {
                return Err(BrandingError::AccentContrast(
                    accent.clone(),
                    format!("{ratio:.1}"),
                ));
            }
        }
        if let Some(logo) = &self.logo {
            let ok = logo.len() <= MAX_LOGO_CHARS
                && logo
                    .strip_prefix("data:")
                    .and_then(|rest| rest.split_once(";base64,"))
                    .is_some_and(|(kind, data)| {
                        LOGO_TYPES.contains(&kind)
                            && !data.is_empty()
                            && data
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                    });
            if !ok {
                return Err(BrandingError::Logo);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accent(c: &str) -> Result<(), BrandingError> {
        Branding {
            accent: Some(c.into()),
            logo: None,
        }
        .validate()
    }

    fn logo(l: &str) -> Result<(), BrandingError> {
        Branding {
            accent: None,
            logo: Some(l.into()),
        }
        .validate()
    }

    #[test]
    fn accents_must_be_colours_dark_enough_for_white_text() {
        assert_eq!(accent("#1f5f8b"), Ok(()));
        assert_eq!(accent("#000000"), Ok(()));
        assert_eq!(
            accent("#ffff00"),
            Err(BrandingError::AccentContrast(
                "#ffff00".into(),
                "1.1".into()
            ))
        );
        assert!(matches!(
            accent("#808080"),
            Err(BrandingError::AccentContrast(..))
        ));
        for bad in [
            "1f5f8b",
            "#1f5f8",
            "#1f5f8bb",
            "#gggggg",
            "red",
            "#1f5f8\u{e9}",
        ] {
            assert_eq!(accent(bad), Err(BrandingError::AccentFormat), "{bad}");
        }
        assert_eq!(Branding::default().validate(), Ok(()));
    }

    #[test]
    fn logos_are_image_data_urls_of_bounded_size() {
        assert_eq!(logo("data:image/png;base64,iVBORw0KGgo="), Ok(()));
        assert_eq!(logo("data:image/svg+xml;base64,PHN2Zz4="), Ok(()));
        for bad in [
            "https://example.com/logo.png",
            "data:text/html;base64,PHNjcmlwdD4=",
            "data:image/png,<svg>",
            "data:image/png;base64,\"><script>",
            "data:image/png;base64,",
        ] {
            assert_eq!(logo(bad), Err(BrandingError::Logo), "{bad}");
        }
        let big = format!("data:image/png;base64,{}", "A".repeat(MAX_LOGO_CHARS));
        assert_eq!(logo(&big), Err(BrandingError::Logo));
    }
}
