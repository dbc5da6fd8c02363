//! Amounts: exact decimals, minor units and currencies, written the way people read money.

use std::cmp::Ordering;
use std::fmt;

/// An exact decimal number: `mantissa × 10^-scale`. No floating point ever touches money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// Parses `12`, `-3.50`, `0.1`; refuses exponents, signs other than a leading `-`, and more
    /// than 30 digits.
    pub fn parse(text: &str) -> Option<Decimal> {
        // Exponent notation (`5e5`, `1.5E+3`) is the same number to every JSON reader: read it
        // exactly, or an amount written so would escape the limit that asks for the second factor.
        if let Some(at) = text.find(['e', 'E']) {
            let base = Decimal::parse(&text[..at])?;
            let exponent: i32 = text[at + 1..]
                .strip_prefix('+')
                .unwrap_or(&text[at + 1..])
                .parse()
                .ok()?;
            if !(-40..=40).contains(&exponent) {
                return None;
            }
            let scale = i64::from(base.scale) - i64::from(exponent);
            return if scale >= 0 {
                Some(Decimal {
                    mantissa: base.mantissa,
                    scale: u32::try_from(scale).ok()?,
                })
            } else {
                let factor = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
                Some(Decimal {
                    mantissa: base.mantissa.checked_mul(factor)?,
                    scale: 0,
                })
            };
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || whole.len() + fraction.len() > 30
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || (digits.contains('.') && fraction.is_empty())
        {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(b - b'0'))?;
        }
        let scale = u32::try_from(fraction.len()).ok()?;
        Some(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        })
    }

    /// An integer count of minor units (cents) as a decimal of the currency's major unit.
    pub fn from_minor(minor: Decimal, currency: &str) -> Option<Decimal> {
        if minor.scale != 0 {
            return None;
        }
        Some(Decimal {
            mantissa: minor.mantissa,
            scale: minor_digits(currency),
        })
    }

    /// The value divided by 1,000,000 (for amounts counted in millionths, Google's `…Micros`).
    pub fn divided_by_million(self) -> Option<Decimal> {
        let mut out = Decimal {
            mantissa: self.mantissa,
            scale: self.scale.checked_add(6)?,
        };
        // 109900000 micros is 109.9, not 109.900000: trailing zeros say nothing.
        while out.scale > 0 && out.mantissa % 10 == 0 {
            out.mantissa /= 10;
            out.scale -= 1;
        }
        Some(out)
    }

    /// Whether the value is zero.
    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// The sum (None on overflow).
    pub fn plus(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        Some(Decimal {
            mantissa: self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?,
            scale,
        })
    }

    /// The plain digits (`-1200.50`): no grouping, as an API reads a number.
    pub fn plain(self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        let sign = if self.is_negative() { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        }
    }

    /// Whether the value is below zero.
    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        let factor = 10i128.checked_pow(scale.checked_sub(self.scale)?)?;
        self.mantissa.checked_mul(factor)
    }

    /// Compares two decimals exactly (None if they cannot be aligned without overflow).
    pub fn compare(self, other: Decimal) -> Option<Ordering> {
        let scale = self.scale.max(other.scale);
        Some(self.rescaled(scale)?.cmp(&other.rescaled(scale)?))
    }

    /// The digits with thousands separators and at least `min_fraction` decimals.
    fn grouped(self, min_fraction: u32) -> String {
        let wanted = self.scale.max(min_fraction);
        let (value, scale) = match self.rescaled(wanted) {
            Some(value) => (value, wanted as usize),
            None => (self.mantissa, self.scale as usize),
        };
        let digits = value.unsigned_abs().to_string();
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if fraction.is_empty() {
            grouped
        } else {
            format!("{grouped}.{fraction}")
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_negative() {
            f.write_str("-")?;
        }
        f.write_str(&self.grouped(0))
    }
}

/// How many decimals the currency's minor unit has (ISO 4217).
pub fn minor_digits(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Money as a person reads it: `$1,250.00`, `€12.00`, `¥500`, `12.00 CHF`.
pub fn format_money(amount: Decimal, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let digits = amount.grouped(minor_digits(&code));
    let sign = if amount.is_negative() { "-" } else { "" };
    let symbol = match code.as_str() {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        "INR" => Some("₹"),
        _ => None,
    };
    match symbol {
        Some(symbol) => format!("{sign}{symbol}{digits}"),
        None => format!("{sign}{digits} {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn minor_units_become_money() {
        let minor = |s, c| format_money(Decimal::from_minor(d(s), c).unwrap(), c);
        assert_eq!(minor("9999", "usd"), "$99.99");
        assert_eq!(minor("125000", "USD"), "$1,250.00");
        assert_eq!(minor("500", "JPY"), "¥500");
        assert_eq!(minor("1200", "CHF"), "12.00 CHF");
        assert_eq!(minor("5", "EUR"), "€0.05");
        assert_eq!(minor("1234", "KWD"), "1.234 KWD");
    }

    #[test]
    fn decimals_keep_their_precision() {
        assert_eq!(format_money(d("99.9"), "USD"), "$99.90");
        assert_eq!(format_money(d("-3.5"), "GBP"), "-£3.50");
        assert_eq!(format_money(d("1000000"), "USD"), "$1,000,000.00");
        assert_eq!(d("10.00").compare(d("9.999")), Some(Ordering::Greater));
        // Exponent notation is the number every JSON reader sees.
        assert_eq!(
            format_money(Decimal::from_minor(d("5e5"), "usd").unwrap(), "usd"),
            "$5,000.00"
        );
        assert_eq!(format_money(d("2.5E+2"), "USD"), "$250.00");
        assert_eq!(format_money(d("1e-2"), "USD"), "$0.01");
        assert_eq!(Decimal::parse("1e999"), None);
        assert_eq!(Decimal::parse("1."), None);
        assert_eq!(Decimal::parse("+1"), None);
    }
}
