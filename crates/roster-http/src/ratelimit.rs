//! Rate limits on SCIM requests, per token and per tenant (governor's keyed GCRA limiters,
//! in process memory). They are checked right after authentication, so only a valid token
//! can spend a quota and the keys are bounded by the tokens and tenants that exist.
//!
//! A refused request gets `429 Too Many Requests` with `Retry-After` and a SCIM error body
//! (RFC 7644 §3.12 has no `scimType` for it; RFC 6585 §4 defines the status). Quotas are
//! whole requests a second, so a refused client can always try again within one second.
//! With several Roster instances each keeps its own counts: size quotas per instance.
//!
//! Refusals must stay cheap, or a flood would still crowd out other tenants: a refused
//! request costs its token lookup and nothing else, and the provisioning log records at most
//! one refusal a second per token (the `roster_rate_limited_total` metric counts them all).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter as Governor};

use roster_core::TenantId;

/// How long a refused client should wait, in seconds (the `Retry-After` value). Every quota
/// is at least one request a second, so the next cell is free within a second.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The configured quotas. A rate of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Sustained requests a second one SCIM token may make.
    pub per_token: u32,
    /// How many requests a token may make at once above its rate.
    pub token_burst: u32,
    /// Sustained requests a second one tenant (all its tokens together) may make.
    pub per_tenant: u32,
    /// The tenant's burst.
    pub tenant_burst: u32,
}

impl Default for RateLimits {
    /// 50 requests a second per token with bursts of 100; 200 a second per tenant with
    /// bursts of 400. Entra ID and Okta stay far below this; a runaway script does not.
    fn default() -> Self {
        RateLimits { per_token: 50, token_burst: 100, per_tenant: 200, tenant_burst: 400 }
    }
}

impl RateLimits {
    /// No limits at all (tests, benchmarks).
    pub const UNLIMITED: RateLimits = RateLimits { per_token: 0, token_burst: 0, per_tenant: 0, tenant_burst: 0 };
}

/// Which quota refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Token,
    Tenant,
}

impl Limited {
    /// The label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Limited::Token => "token",
            Limited::Tenant => "tenant",
        }
    }

    /// What the client is told.
    pub fn detail(self) -> String {
        let whose = match self {
            Limited::Token => "this token",
            Limited::Tenant => "this tenant",
        };
        format!("Too many requests for {whose}; retry after {RETRY_AFTER_SECS} second")
    }
}

fn quota(rate: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(burst.max(rate.get())).unwrap_or(rate);
    Some(Quota::per_second(rate).allow_burst(burst))
}

/// The SCIM limiters of one process.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    tokens: Option<DefaultKeyedRateLimiter<String>>,
    tenants: Option<DefaultKeyedRateLimiter<TenantId>>,
    /// One provisioning-log row a second per refused caller.
    logged_refusals: DefaultKeyedRateLimiter<(TenantId, Option<String>)>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> RateLimiter {
        RateLimiter {
            limits,
            tokens: quota(limits.per_token, limits.token_burst).map(Governor::keyed),
            tenants: quota(limits.per_tenant, limits.tenant_burst).map(Governor::keyed),
            logged_refusals: Governor::keyed(Quota::per_second(NonZeroU32::MIN)),
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Counts one request of `token_id` (if the request has a token) in `tenant`. The token's
    /// own quota is checked first, so a token that is over it does not also use up its
    /// tenant's quota for the other tokens.
    pub fn check(&self, tenant: TenantId, token_id: Option<&str>) -> Result<(), Limited> {
        if let (Some(limiter), Some(id)) = (&self.tokens, token_id)
            && limiter.check_key(&id.to_string()).is_err()
        {
            return Err(Limited::Token);
        }
        if let Some(limiter) = &self.tenants
            && limiter.check_key(&tenant).is_err()
        {
            return Err(Limited::Tenant);
        }
        Ok(())
    }
}

impl RateLimiter {
    /// Whether a refusal of this caller goes in the provisioning log (one a second).
    pub fn log_refusal(&self, tenant: TenantId, token_id: Option<&str>) -> bool {
        self.logged_refusals.check_key(&(tenant, token_id.map(str::to_string))).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gets_its_burst_then_is_refused() {
        let limiter = RateLimiter::new(RateLimits { per_token: 1, token_burst: 3, per_tenant: 0, tenant_burst: 0 });
        for _ in 0..3 {
            assert_eq!(limiter.check(1, Some("a")), Ok(()));
        }
        assert_eq!(limiter.check(1, Some("a")), Err(Limited::Token));
        // Another token has its own quota; requests without a token are not limited by it.
        assert_eq!(limiter.check(1, Some("b")), Ok(()));
        assert_eq!(limiter.check(1, None), Ok(()));
    }

    #[test]
    fn a_tenant_quota_spans_its_tokens_and_spares_other_tenants() {
        let limiter = RateLimiter::new(RateLimits { per_token: 0, token_burst: 0, per_tenant: 1, tenant_burst: 4 });
        for token in ["a", "b", "c", "d"] {
            assert_eq!(limiter.check(1, Some(token)), Ok(()));
        }
        assert_eq!(limiter.check(1, Some("e")), Err(Limited::Tenant));
        assert_eq!(limiter.check(2, Some("f")), Ok(()));
    }

    #[test]
    fn zero_turns_a_limit_off_and_a_burst_is_never_below_the_rate() {
        let limiter = RateLimiter::new(RateLimits::UNLIMITED);
        for _ in 0..10_000 {
            assert_eq!(limiter.check(1, Some("a")), Ok(()));
        }
        let limiter = RateLimiter::new(RateLimits { per_token: 5, token_burst: 0, per_tenant: 0, tenant_burst: 0 });
        for _ in 0..5 {
            assert_eq!(limiter.check(1, Some("a")), Ok(()));
        }
        assert_eq!(limiter.check(1, Some("a")), Err(Limited::Token));
    }

    #[test]
    fn refusals_are_logged_once_a_second_per_caller() {
        let limiter = RateLimiter::new(RateLimits::default());
        assert!(limiter.log_refusal(1, Some("a")));
        assert!(!limiter.log_refusal(1, Some("a")));
        assert!(limiter.log_refusal(1, Some("b")));
        assert!(limiter.log_refusal(2, None));
        assert!(!limiter.log_refusal(2, None));
    }
}
