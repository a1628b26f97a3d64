//! Bulk (RFC 7644 §3.7): request parsing with per-operation problems, `bulkId`
//! references resolved in dependency order regardless of their position in the request,
//! and the BulkResponse. Running each operation is the caller's job.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use crate::error::{ScimError, ScimType};

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The advertised limits (`bulk.maxOperations`, `bulk.maxPayloadSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: usize,
    pub max_payload_size: usize,
}

impl Default for BulkLimits {
    fn default() -> Self {
        BulkLimits { max_operations: 1000, max_payload_size: 1_048_576 }
    }
}

impl BulkLimits {
    /// `413` when the raw body exceeds `maxPayloadSize` (BK-5).
    pub fn check_payload(&self, bytes: usize) -> Result<(), ScimError> {
        if bytes > self.max_payload_size {
            return Err(ScimError::payload_too_large(format!(
                "The size of the bulk operation exceeds the maxPayloadSize ({}).",
                self.max_payload_size
            )));
        }
        Ok(())
    }
}

/// A Bulk operation's HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }

    fn parse(s: &str) -> Option<BulkMethod> {
        [BulkMethod::Post, BulkMethod::Put, BulkMethod::Patch, BulkMethod::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// One operation as requested. `problem` holds what makes it unrunnable (BK-1): it
/// fails on its own with that error while the others proceed.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: Option<BulkMethod>,
    /// The method as sent, echoed in the result.
    pub method_text: String,
    pub path: String,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub data: Option<Value>,
    pub problem: Option<ScimError>,
}

impl BulkOperation {
    /// The bulkIds this operation refers to (in its path or data).
    pub fn references(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        collect_refs_str(&self.path, &mut out);
        if let Some(data) = &self.data {
            collect_refs(data, &mut out);
        }
        out
    }
}

/// A parsed BulkRequest.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many errors (BK-3); `None` runs every operation.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<BulkOperation>,
}

impl BulkRequest {
    /// Parses the body. Structural problems of the whole request are errors; problems of
    /// one operation are recorded on it. Too many operations is `413` (BK-5).
    pub fn from_json(body: &Value, limits: &BulkLimits) -> Result<BulkRequest, ScimError> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax("a BulkRequest must be a JSON object"));
        };
        let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let fail_on_errors = match get("failOnErrors") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(n) => Some((n as usize).max(1)),
                None => {
                    return Err(ScimError::invalid_value("failOnErrors must be a positive integer"));
                }
            },
            Some(other) => {
                return Err(ScimError::invalid_value(format!("failOnErrors must be an integer, got {other}")));
            }
        };
        let Some(Value::Array(items)) = get("Operations") else {
            return Err(ScimError::invalid_syntax("a BulkRequest needs an \"Operations\" array"));
        };
        if items.len() > limits.max_operations {
            return Err(ScimError::payload_too_large(format!(
                "The bulk request has {} operations; maxOperations is {}.",
                items.len(),
                limits.max_operations
            )));
        }
        let mut seen_ids = BTreeSet::new();
        let operations = items
            .iter()
            .map(|item| {
                let mut op = parse_operation(item);
                if let Some(id) = &op.bulk_id
                    && !seen_ids.insert(id.clone())
                    && op.problem.is_none()
                {
                    op.problem =
                        Some(ScimError::invalid_syntax(format!("bulkId {id:?} is used by more than one operation")));
                }
                op
            })
            .collect();
        Ok(BulkRequest { fail_on_errors, operations })
    }

    /// The order to run operations in: request order, except that an operation waits for
    /// the POSTs whose bulkIds it references (BK-4: forward references resolve). Operations
    /// caught in a reference cycle come last; they will find their references unresolved.
    pub fn execution_order(&self) -> Vec<usize> {
        let definers: HashMap<&str, usize> = self
            .operations
            .iter()
            .enumerate()
            .filter(|(_, op)| op.problem.is_none())
            .filter_map(|(i, op)| op.bulk_id.as_deref().map(|id| (id, i)))
            .collect();
        let deps: Vec<Vec<usize>> = self
            .operations
            .iter()
            .enumerate()
            .map(|(i, op)| {
                op.references().iter().filter_map(|r| definers.get(r.as_str()).copied()).filter(|&d| d != i).collect()
            })
            .collect();
        let mut done = vec![false; self.operations.len()];
        let mut order = Vec::with_capacity(self.operations.len());
        loop {
            let next = (0..self.operations.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
            match next {
                Some(i) => {
                    done[i] = true;
                    order.push(i);
                }
                None => break,
            }
        }
        order.extend((0..self.operations.len()).filter(|&i| !done[i]));
        order
    }
}

fn parse_operation(item: &Value) -> BulkOperation {
    let mut op = BulkOperation {
        method: None,
        method_text: String::new(),
        path: String::new(),
        bulk_id: None,
        version: None,
        data: None,
        problem: None,
    };
    let Value::Object(obj) = item else {
        op.problem = Some(ScimError::invalid_syntax("a bulk operation must be a JSON object"));
        return op;
    };
    let get = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let text = |name: &str| get(name).and_then(Value::as_str).map(str::to_string);
    op.method_text = text("method").unwrap_or_default();
    op.method = BulkMethod::parse(&op.method_text);
    op.path = text("path").unwrap_or_default();
    op.bulk_id = text("bulkId").filter(|s| !s.is_empty());
    op.version = text("version").filter(|s| !s.is_empty());
    op.data = get("data").filter(|v| !v.is_null()).cloned();
    op.problem = match (op.method, op.path.is_empty()) {
        (None, _) if op.method_text.is_empty() => Some(ScimError::invalid_syntax("the operation has no method")),
        (None, _) => Some(ScimError::invalid_syntax(format!("unknown method {:?}", op.method_text))),
        (Some(_), true) => Some(ScimError::invalid_syntax("the operation has no path")),
        (Some(BulkMethod::Post), _) if op.bulk_id.is_none() => {
            Some(ScimError::invalid_syntax("a POST operation needs a bulkId"))
        }
        (Some(BulkMethod::Post | BulkMethod::Put | BulkMethod::Patch), _) if op.data.is_none() => {
            Some(ScimError::invalid_syntax(format!("a {} operation needs data", op.method_text.to_uppercase())))
        }
        _ => None,
    };
    op
}

const PREFIX: &str = "bulkId:";

fn collect_refs_str(s: &str, out: &mut BTreeSet<String>) {
    for segment in s.split('/') {
        if let Some(id) = strip_prefix_ci(segment, PREFIX) {
            out.insert(id.to_string());
        }
    }
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    s.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).map(|_| &s[prefix.len()..])
}

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = strip_prefix_ci(s, PREFIX) {
                out.insert(id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Value::Object(o) => o.values().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

/// Replaces every `bulkId:<id>` (a whole string value, or a path segment) with the id the
/// operation that defined it created. A reference to a bulkId that no operation created
/// fails the operation with `409` (BK-4; RFC 7644 §3.7.3).
pub fn substitute(op: &mut BulkOperation, created: &HashMap<String, String>) -> Result<(), ScimError> {
    let unresolved = |id: &str| ScimError {
        status: 409,
        scim_type: Some(ScimType::InvalidValue),
        detail: format!(
            "bulkId {id:?} does not refer to a resource created in this request (undefined, failed or circular)"
        ),
    };
    let mut segments = Vec::new();
    for segment in op.path.split('/') {
        match strip_prefix_ci(segment, PREFIX) {
            Some(id) => segments.push(created.get(id).cloned().ok_or_else(|| unresolved(id))?),
            None => segments.push(segment.to_string()),
        }
    }
    op.path = segments.join("/");
    fn walk(
        v: &mut Value,
        created: &HashMap<String, String>,
        unresolved: &dyn Fn(&str) -> ScimError,
    ) -> Result<(), ScimError> {
        match v {
            Value::String(s) => {
                if let Some(id) = strip_prefix_ci(s, PREFIX) {
                    let id = id.to_string();
                    *s = created.get(&id).cloned().ok_or_else(|| unresolved(&id))?;
                }
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|i| walk(i, created, unresolved)),
            Value::Object(o) => o.values_mut().try_for_each(|i| walk(i, created, unresolved)),
            _ => Ok(()),
        }
    }
    if let Some(data) = &mut op.data {
        walk(data, created, &unresolved)?;
    }
    Ok(())
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkResult {
    pub method: String,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub location: Option<String>,
    pub status: u16,
    /// The error body on failure.
    pub response: Option<Value>,
}

impl BulkResult {
    pub fn failed(op: &BulkOperation, error: &ScimError) -> BulkResult {
        BulkResult {
            method: if op.method_text.is_empty() { "POST".into() } else { op.method_text.to_uppercase() },
            bulk_id: op.bulk_id.clone(),
            version: None,
            location: None,
            status: error.status,
            response: Some(error.to_json()),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(l) = &self.location {
            o.insert("location".into(), json!(l));
        }
        o.insert("method".into(), json!(self.method));
        if let Some(b) = &self.bulk_id {
            o.insert("bulkId".into(), json!(b));
        }
        if let Some(v) = &self.version {
            o.insert("version".into(), json!(v));
        }
        o.insert("status".into(), json!(self.status.to_string()));
        if let Some(r) = &self.response {
            o.insert("response".into(), r.clone());
        }
        Value::Object(o)
    }
}

/// The BulkResponse body (BK-2).
pub fn bulk_response(results: &[BulkResult]) -> Value {
    json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": results.iter().map(BulkResult::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ops: Value) -> BulkRequest {
        BulkRequest::from_json(&json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops}), &BulkLimits::default())
            .unwrap()
    }

    #[test]
    fn forward_references_run_after_their_definition() {
        let req = request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:u"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}},
        ]));
        assert_eq!(req.execution_order(), vec![1, 0]);
    }

    #[test]
    fn cycles_go_last_and_fail_to_resolve() {
        let req = request(json!([
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}},
            {"method": "DELETE", "path": "/Users/x"},
        ]));
        assert_eq!(req.execution_order(), vec![2, 0, 1]);
        let mut op = req.operations[0].clone();
        let err = substitute(&mut op, &HashMap::new()).unwrap_err();
        assert_eq!(err.status, 409);
    }

    #[test]
    fn substitution_replaces_values_and_path_segments() {
        let mut op = request(json!([
            {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}]}}
        ]))
        .operations
        .remove(0);
        let created = HashMap::from([("g".to_string(), "G1".to_string()), ("u".to_string(), "U1".to_string())]);
        substitute(&mut op, &created).unwrap();
        assert_eq!(op.path, "/Groups/G1");
        assert_eq!(op.data.unwrap()["Operations"][0]["value"][0]["value"], "U1");
    }

    #[test]
    fn malformed_operations_carry_their_own_problem() {
        let req = request(json!([
            {"path": "/Users"},
            {"method": "POST", "path": "/Users", "data": {"userName": "x"}},
            {"method": "FETCH", "path": "/Users"},
            {"method": "PUT", "path": "/Users/1"},
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": {}},
        ]));
        let problems: Vec<bool> = req.operations.iter().map(|o| o.problem.is_some()).collect();
        assert_eq!(problems, vec![true, true, true, true, false, true]);
    }

    #[test]
    fn too_many_operations_is_413() {
        let ops: Vec<Value> = (0..3).map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")})).collect();
        let limits = BulkLimits { max_operations: 2, max_payload_size: 100 };
        let err = BulkRequest::from_json(&json!({"Operations": ops}), &limits).unwrap_err();
        assert_eq!(err.status, 413);
        assert!(err.detail.contains("maxOperations is 2"));
        assert_eq!(limits.check_payload(101).unwrap_err().status, 413);
    }
}
