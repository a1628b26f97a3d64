//! Read helpers for the admin portal's pages: resource counts, a resource's provisioning
//! history, the last request per identity provider, and recent failures. They only read,
//! through the same services and store calls as the SCIM endpoints and the admin API.

use roster_scim::ResourceKind;
use roster_scim::messages::ListQuery;

use crate::admin::TokenView;
use crate::audit::{ProvisioningQuery, ProvisioningRecord};
use crate::error::Result;
use crate::model::{Idp, Tenant};
use crate::scim::Core;

/// The last SCIM request one identity provider's tokens made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpActivity {
    pub idp: Idp,
    /// How many of the tenant's tokens belong to this IdP.
    pub tokens: usize,
    /// The newest provisioning-log row of those tokens, if any.
    pub last: Option<ProvisioningRecord>,
}

impl Core {
    /// How many users or groups of the tenant match `filter` (a SCIM filter; `None`: all).
    /// A `count=0` list (RFC 7644 §3.4.2.4): storage counts, nothing is loaded.
    pub async fn count_resources(&self, slug: &str, kind: ResourceKind, filter: Option<&str>) -> Result<u64> {
        let ctx = self.anonymous(slug, String::new()).await?;
        let query =
            ListQuery { filter: filter.map(str::to_string), start_index: 1, count: Some(0), ..ListQuery::default() };
        Ok(self.list(&ctx, Some(kind), &query).await?.total_results)
    }

    /// The provisioning-log rows about one resource, newest first.
    pub async fn resource_history(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
        limit: u32,
    ) -> Result<Vec<ProvisioningRecord>> {
        self.store
            .provisioning_log(&ProvisioningQuery {
                tenant: tenant.id,
                resource_type: Some(kind.name().to_string()),
                resource_id: Some(id.to_string()),
                limit,
                ..ProvisioningQuery::default()
            })
            .await
    }

    /// For each IdP that holds a token of the tenant, the newest request of its tokens.
    pub async fn last_request_per_idp(&self, tenant: &Tenant, tokens: &[TokenView]) -> Result<Vec<IdpActivity>> {
        let mut out: Vec<IdpActivity> = Vec::new();
        for token in tokens {
            let last = self
                .store
                .provisioning_log(&ProvisioningQuery {
                    tenant: tenant.id,
                    token_id: Some(token.id.clone()),
                    limit: 1,
                    ..ProvisioningQuery::default()
                })
                .await?
                .into_iter()
                .next();
            match out.iter_mut().find(|a| a.idp == token.idp) {
                Some(activity) => {
                    activity.tokens += 1;
                    if last.as_ref().is_some_and(|l| activity.last.as_ref().is_none_or(|a| l.at > a.at)) {
                        activity.last = last;
                    }
                }
                None => out.push(IdpActivity { idp: token.idp, tokens: 1, last }),
            }
        }
        Ok(out)
    }

    /// The newest failed SCIM requests (4xx and 5xx) of the tenant, newest first.
    pub async fn recent_failures(&self, tenant: &Tenant, limit: u32) -> Result<Vec<ProvisioningRecord>> {
        let mut rows = Vec::new();
        for class in [4, 5] {
            rows.extend(
                self.store
                    .provisioning_log(&ProvisioningQuery {
                        tenant: tenant.id,
                        status_class: Some(class),
                        limit,
                        ..ProvisioningQuery::default()
                    })
                    .await?,
            );
        }
        rows.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        rows.truncate(limit as usize);
        Ok(rows)
    }
}
