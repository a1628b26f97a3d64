//! Bulk (RFC 7644 §3.7): runs each operation through the same service methods as single
//! requests, in dependency order, substituting `bulkId` references.

use std::collections::HashMap;

use serde_json::Value;

use roster_scim::bulk::{BulkMethod, BulkRequest, BulkResult, bulk_response, substitute};
use roster_scim::{ResourceKind, ScimError};

use crate::error::{Error, Result};
use crate::scim::{Core, ProjectionArgs, ResourceOut, ScimCtx};

/// What one bulk operation did, for the provisioning log.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkItem {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The id of the resource written. Only the id is kept, not the rendered resource: a
    /// 1,000-operation request would otherwise hold 1,000 rendered resources until it ends.
    pub resource_id: Option<String>,
    pub error: Option<ScimError>,
}

/// The BulkResponse body and the per-operation outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOutcome {
    pub body: Value,
    pub items: Vec<BulkItem>,
}

/// `/Users`, `/Users/{id}`, `Groups/{id}`: the resource type and the id, if any.
fn parse_target(path: &str) -> Result<(ResourceKind, Option<String>)> {
    let trimmed = path.trim().trim_start_matches('/');
    let (endpoint, id) = match trimmed.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (trimmed, None),
    };
    let kind = ResourceKind::from_endpoint(endpoint)
        .ok_or_else(|| Error::Scim(ScimError::invalid_path(format!("{path:?} is not a /Users or /Groups path"))))?;
    match id {
        Some(id) if id.is_empty() || id.contains('/') => {
            Err(Error::Scim(ScimError::invalid_path(format!("{path:?} is not a resource path"))))
        }
        id => Ok((kind, id.map(str::to_string))),
    }
}

impl Core {
    /// POST `/Bulk`. The request must already be within `maxPayloadSize`. The body is taken
    /// by value and each operation's data is moved out as it runs, so a large request is
    /// held in memory once, shrinking as it goes.
    pub async fn bulk(&self, ctx: &ScimCtx, body: Value) -> Result<BulkOutcome> {
        let mut request = BulkRequest::from_json(&body, &self.sp_config.bulk)?;
        drop(body);
        let mut created: HashMap<String, String> = HashMap::new();
        let mut results: Vec<Option<(BulkResult, BulkItem)>> = vec![None; request.operations.len()];
        let mut errors = 0usize;
        for i in request.execution_order() {
            if request.fail_on_errors.is_some_and(|max| errors >= max) {
                break;
            }
            let data = request.operations[i].data.take();
            let mut op = request.operations[i].clone();
            op.data = data;
            // Each operation is logged as itself (its method and path) under the bulk request's id.
            let mut op_ctx = ctx.clone();
            if let Some(info) = &mut op_ctx.request {
                info.method = op.method_text.to_uppercase();
                info.path = format!("{}{}", info.path.trim_end_matches("/Bulk"), op.path);
            }
            let outcome = self.run_operation(&op_ctx, &mut op, &created).await;
            let item = match outcome {
                Ok((status, out)) => {
                    if let (Some(bulk_id), Some(BulkMethod::Post)) = (&op.bulk_id, op.method) {
                        created.insert(bulk_id.clone(), out.id.clone());
                    }
                    let result = BulkResult {
                        method: op.method_text.to_uppercase(),
                        bulk_id: op.bulk_id.clone(),
                        version: (status != 204).then(|| out.etag()),
                        location: Some(out.location.clone()),
                        status,
                        response: None,
                    };
                    let item = BulkItem {
                        method: result.method.clone(),
                        path: op.path.clone(),
                        status,
                        resource_id: Some(out.id),
                        error: None,
                    };
                    (result, item)
                }
                Err(e) => {
                    errors += 1;
                    let scim = e.to_scim();
                    if let Error::Storage(cause) = &e {
                        tracing::error!(%cause, "bulk operation failed in storage");
                    }
                    let result = BulkResult::failed(&op, &scim);
                    let item = BulkItem {
                        method: result.method.clone(),
                        path: op.path.clone(),
                        status: scim.status,
                        resource_id: None,
                        error: Some(scim),
                    };
                    (result, item)
                }
            };
            results[i] = Some(item);
        }
        let (results, items): (Vec<BulkResult>, Vec<BulkItem>) = results.into_iter().flatten().unzip();
        Ok(BulkOutcome { body: bulk_response(&results), items })
    }

    async fn run_operation(
        &self,
        ctx: &ScimCtx,
        op: &mut roster_scim::bulk::BulkOperation,
        created: &HashMap<String, String>,
    ) -> Result<(u16, ResourceOut)> {
        if let Some(problem) = &op.problem {
            return Err(Error::Scim(problem.clone()));
        }
        substitute(op, created)?;
        let (kind, id) = parse_target(&op.path)?;
        let data = op.data.take().unwrap_or(Value::Null);
        let args = ProjectionArgs::default();
        let version = op.version.as_deref();
        let need_id = |id: Option<String>| {
            id.ok_or_else(|| {
                Error::Scim(ScimError::invalid_path(format!("{} needs a resource id in its path", op.method_text)))
            })
        };
        match op.method {
            Some(BulkMethod::Post) => {
                if id.is_some() {
                    return Err(Error::Scim(ScimError::invalid_path("POST goes to /Users or /Groups, without an id")));
                }
                Ok((201, self.create(ctx, kind, &data, &args).await?))
            }
            Some(BulkMethod::Put) => Ok((200, self.replace(ctx, kind, &need_id(id)?, &data, version, &args).await?)),
            Some(BulkMethod::Patch) => Ok((200, self.patch(ctx, kind, &need_id(id)?, &data, version, &args).await?)),
            Some(BulkMethod::Delete) => {
                let id = need_id(id)?;
                let deleted = self.delete(ctx, kind, &id, version).await?;
                let location = format!("{}{}/{}", ctx.base_url, kind.endpoint(), deleted.id);
                Ok((
                    204,
                    ResourceOut {
                        kind,
                        id: deleted.id,
                        body: Default::default(),
                        version: deleted.version,
                        location,
                        report: Default::default(),
                        name: String::new(),
                    },
                ))
            }
            None => Err(Error::Scim(ScimError::invalid_syntax("the operation has no valid method"))),
        }
    }
}
