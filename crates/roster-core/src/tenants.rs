//! Tenants and the minimal token issue of the SCIM server (the full lifecycle and audit
//! trail build on this).

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::model::{Idp, Tenant, TenantSettings};
use crate::scim::Core;

/// The tenant every installation starts with.
pub const DEFAULT_TENANT: &str = "default";

/// Checks a tenant slug: it is a URL path segment, so 1 to 63 of `a-z`, `0-9` and `-`,
/// starting with a letter or digit.
pub fn validate_slug(slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && slug.bytes().next().is_some_and(|b| b != b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{slug:?} is not a valid tenant name: use 1 to 63 lowercase letters, digits and '-', not starting with '-'"
        )))
    }
}

/// How long a new token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    After(time::Duration),
}

impl Expiry {
    /// The default: one year.
    pub const DEFAULT: Expiry = Expiry::After(time::Duration::days(365));

    /// Parses `never`, or a number with a unit: `30d`, `12h`, `90m`, `2w`, `1y`.
    pub fn parse(s: &str) -> Result<Expiry> {
        let s = s.trim().to_ascii_lowercase();
        if s == "never" {
            return Ok(Expiry::Never);
        }
        let bad = || {
            Error::Invalid(format!("{s:?} is not an expiry: use 'never' or a count with a unit, like 365d, 12h or 2w"))
        };
        let unit = s.chars().last().ok_or_else(bad)?;
        let n: i64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        if n <= 0 || n > 100 * 366 * 24 * 60 {
            return Err(bad());
        }
        let d = match unit {
            'm' => time::Duration::minutes(n),
            'h' => time::Duration::hours(n),
            'd' => time::Duration::days(n),
            'w' => time::Duration::weeks(n),
            'y' => time::Duration::days(n.saturating_mul(365)),
            _ => return Err(bad()),
        };
        Ok(Expiry::After(d))
    }

    pub fn at(self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Expiry::Never => None,
            Expiry::After(d) => now.checked_add(d),
        }
    }
}

/// A token just issued: the only time its secret is visible.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    pub id: String,
    /// The bearer token. Shown once; never stored.
    pub token: String,
    /// The tenant's SCIM base URL, to paste into the IdP.
    pub target_url: String,
    pub idp: Idp,
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// The SCIM base URL of a tenant under a public URL.
pub fn target_url(public_url: &str, slug: &str) -> String {
    format!("{}/scim/v2/{slug}", public_url.trim_end_matches('/'))
}

impl Core {
    /// Creates a tenant with default settings.
    pub async fn create_tenant(&self, slug: &str) -> Result<Tenant> {
        validate_slug(slug)?;
        if self.store.tenant_by_slug(slug).await?.is_some() {
            return Err(Error::Conflict(format!("tenant {slug:?} already exists")));
        }
        self.store.create_tenant(slug, &TenantSettings::default(), self.clock.now()).await
    }

    /// Creates a tenant on behalf of `actor`, with its audit row.
    pub async fn create_tenant_as(&self, actor: &crate::audit::Actor, slug: &str) -> Result<Tenant> {
        let tenant = self.create_tenant(slug).await?;
        let audit = crate::audit::AuditEntry {
            tenant: Some(tenant.id),
            at: self.clock.now(),
            actor: actor.clone(),
            event: crate::audit::AuditEvent::TenantCreated,
            target: format!("tenant {slug}"),
            details: String::new(),
        };
        self.store.append_audit(&audit).await?;
        Ok(tenant)
    }

    /// The tenant `slug`, created on first use (first start creates `default`).
    pub async fn ensure_tenant(&self, slug: &str) -> Result<Tenant> {
        if let Some(t) = self.store.tenant_by_slug(slug).await? {
            return Ok(t);
        }
        match self.create_tenant(slug).await {
            Ok(t) => Ok(t),
            // Another instance created it in the meantime.
            Err(Error::Conflict(_)) => self.tenant(slug).await,
            Err(e) => Err(e),
        }
    }

    pub async fn tenant(&self, slug: &str) -> Result<Tenant> {
        self.store.tenant_by_slug(slug).await?.ok_or_else(|| Error::NotFound(format!("no tenant {slug:?}")))
    }

    /// Replaces a tenant's settings as Roster itself (tests, first start).
    pub async fn update_tenant_settings(&self, slug: &str, settings: TenantSettings) -> Result<Tenant> {
        self.change_settings(&crate::audit::Actor::system(), slug, settings).await
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.store.tenants().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_path_segments() {
        for ok in ["default", "acme", "a", "team-42"] {
            assert!(validate_slug(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "-x", "a/b", "a b", "é", &"a".repeat(64)] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiries_parse_units_and_never() {
        assert_eq!(Expiry::parse("never").unwrap(), Expiry::Never);
        assert_eq!(Expiry::parse("365d").unwrap(), Expiry::After(time::Duration::days(365)));
        assert_eq!(Expiry::parse("12h").unwrap(), Expiry::After(time::Duration::hours(12)));
        assert_eq!(Expiry::parse("2W").unwrap(), Expiry::After(time::Duration::weeks(2)));
        for bad in ["", "d", "0d", "-1d", "10x", "tomorrow", "1.5d"] {
            assert!(Expiry::parse(bad).is_err(), "{bad}");
        }
    }
}
