//! Filter → SQL. A resolved filter ([`ValidFilter`]) compiles to a boolean SQL expression
//! over the `resources` row `r`, with every literal bound as a parameter. The comparison
//! keys are those of [`crate::index`], so SQL answers exactly what the protocol core's
//! in-memory evaluator answers (a property test checks it). Filters never fall back to
//! "return everything": anything not expressible is refused when the filter is checked.

use roster_scim::filter::CompareOp;
use roster_scim::messages::SortOrder;
use roster_scim::schema::{AttrType, ENTERPRISE_USER};
use roster_scim::{AttrRef, Literal, Registry, ResourceKind, ValidFilter, text};

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Row lock for read-modify-write (PostgreSQL; SQLite's write lock covers it).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    NullInt,
    NullText,
    NullFloat,
    NullBytes,
}

/// SQL text with its parameters, numbered `$1..$n` (both drivers accept that form).
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
    pub backend: Backend,
}

impl Sql {
    pub fn new(backend: Backend) -> Sql {
        Sql { text: String::new(), args: Vec::new(), backend }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let n = self.args.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self
    }

    pub fn bind_text(&mut self, s: impl Into<String>) -> &mut Self {
        self.bind(Arg::Text(s.into()))
    }

    pub fn bind_int(&mut self, i: i64) -> &mut Self {
        self.bind(Arg::Int(i))
    }

    /// Appends comma-separated placeholders bound to `args` (the inside of an `IN (...)`).
    pub fn bind_list(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(arg);
        }
        self
    }
}

/// The storage code of a resource type.
pub(crate) fn kind_code(kind: ResourceKind) -> i64 {
    match kind {
        ResourceKind::User => 1,
        ResourceKind::Group => 2,
    }
}

pub(crate) fn kind_from_code(code: i64) -> Option<ResourceKind> {
    match code {
        1 => Some(ResourceKind::User),
        2 => Some(ResourceKind::Group),
        _ => None,
    }
}

/// Nanoseconds since the epoch: how timestamps are stored. Instants outside the i64 range
/// (before 1677, after 2262: only ever filter literals) saturate on their own side, so
/// comparisons with stored times stay right.
pub(crate) fn nanos(t: time::OffsetDateTime) -> i64 {
    let n = t.unix_timestamp_nanos();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

pub(crate) fn from_nanos(n: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// What a reference compiles against.
enum Target {
    /// A column (or computed expression) of `r`, with how its values are keyed.
    Column { expr: String, keyed: Keyed },
    /// Rows of `resource_values` under `path`.
    Values { path: String },
    /// The membership relation: `members` of a group, `groups` of a user.
    Relation { sub: Option<String> },
}

#[derive(Clone, Copy)]
enum Keyed {
    /// Text compared by its `caseExact` key (columns already hold the key).
    Text,
    /// An integer column (`active` as 0/1, timestamps as nanoseconds).
    Int,
    /// `meta.version`: compared as the ETag text.
    Version,
}

pub(crate) struct Compiler<'a> {
    pub registry: &'a Registry,
    pub kind: ResourceKind,
    pub base_url: &'a str,
}

impl Compiler<'_> {
    fn target(&self, a: &AttrRef) -> Target {
        if a.extension.is_none() {
            let col = |expr: &str, keyed| Some(Target::Column { expr: expr.to_string(), keyed });
            let found = match (self.kind, a.name.as_str(), a.sub.as_deref()) {
                (_, "id", None) => col("r.id", Keyed::Text),
                (_, "externalId", None) => col("r.external_id", Keyed::Text),
                (ResourceKind::User, "userName", None) | (ResourceKind::Group, "displayName", None) => {
                    col("r.unique_key", Keyed::Text)
                }
                (ResourceKind::User, "active", None) => col("r.active", Keyed::Int),
                (_, "meta", Some("created")) => col("r.created", Keyed::Int),
                (_, "meta", Some("lastModified")) => col("r.last_modified", Keyed::Int),
                (_, "meta", Some("version")) => col("r.version", Keyed::Version),
                (_, "meta", Some("resourceType")) => {
                    col("(CASE r.kind WHEN 1 THEN 'User' ELSE 'Group' END)", Keyed::Text)
                }
                (_, "meta", Some("location")) => Some(Target::Column {
                    expr: format!(
                        "({} || (CASE r.kind WHEN 1 THEN '/Users/' ELSE '/Groups/' END) || r.id)",
                        sql_string(self.base_url)
                    ),
                    keyed: Keyed::Text,
                }),
                (ResourceKind::User, "groups", sub) | (ResourceKind::Group, "members", sub) => {
                    Some(Target::Relation { sub: sub.map(str::to_string) })
                }
                _ => None,
            };
            if let Some(t) = found {
                return t;
            }
        }
        Target::Values { path: a.path() }
    }

    /// Appends the boolean SQL for `f` over row `r`.
    pub fn filter(&self, sql: &mut Sql, f: &ValidFilter) {
        match f {
            ValidFilter::Const(true) => {
                sql.push("1=1");
            }
            ValidFilter::Const(false) => {
                sql.push("1=0");
            }
            ValidFilter::And(terms) | ValidFilter::Or(terms) => {
                let join = if matches!(f, ValidFilter::And(_)) { " AND " } else { " OR " };
                sql.push("(");
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        sql.push(join);
                    }
                    self.filter(sql, t);
                }
                sql.push(")");
            }
            ValidFilter::Not(inner) => {
                sql.push("NOT (");
                self.filter(sql, inner);
                sql.push(")");
            }
            ValidFilter::Present(a) => self.present(sql, a),
            ValidFilter::Compare(a, op, lit) => self.compare(sql, a, *op, lit),
            ValidFilter::ValuePath(a, inner) => self.value_path(sql, a, inner),
        }
    }

    fn present(&self, sql: &mut Sql, a: &AttrRef) {
        if is_meta(a) && a.sub.is_none() {
            // Every resource has `meta`.
            sql.push("1=1");
            return;
        }
        match self.target(a) {
            Target::Column { expr, .. } => {
                sql.push(&format!("{expr} IS NOT NULL"));
            }
            Target::Relation { .. } => {
                sql.push(&self.relation_exists_open());
                sql.push(")");
            }
            Target::Values { path } => {
                sql.push("EXISTS (SELECT 1 FROM resource_values v WHERE v.resource_pk = r.pk AND ");
                self.path_condition(sql, "v", a, &path);
                sql.push(")");
            }
        }
    }

    /// `v.path = $p`, or for a complex attribute without sub-attribute, any of its
    /// sub-attribute paths.
    fn path_condition(&self, sql: &mut Sql, alias: &str, a: &AttrRef, path: &str) {
        if a.sub.is_none() && a.ty == AttrType::Complex {
            let subs = self.sub_paths(a);
            sql.push(&format!("{alias}.path IN ("));
            sql.bind_list(subs.into_iter().map(Arg::Text));
            sql.push(")");
        } else {
            sql.push(&format!("{alias}.path = "));
            sql.bind_text(path);
        }
    }

    fn sub_paths(&self, a: &AttrRef) -> Vec<String> {
        let schema = match &a.extension {
            Some(urn) => self.registry.extension(self.kind, urn),
            None => Some(self.registry.core(self.kind)),
        };
        let prefix = a.path();
        schema
            .and_then(|s| s.attribute(&a.name))
            .map(|def| def.sub_attributes.iter().map(|s| format!("{prefix}.{}", s.name)).collect())
            .unwrap_or_else(|| vec![prefix])
    }

    fn relation_exists_open(&self) -> String {
        match self.kind {
            ResourceKind::Group => {
                "EXISTS (SELECT 1 FROM memberships m JOIN resources u ON u.pk = m.member_pk WHERE m.group_pk = r.pk"
                    .into()
            }
            ResourceKind::User => {
                "EXISTS (SELECT 1 FROM memberships m JOIN resources u ON u.pk = m.group_pk WHERE m.member_pk = r.pk"
                    .into()
            }
        }
    }

    /// The SQL expression of a relation's sub-attribute for the related row `u`.
    fn relation_expr(&self, sub: Option<&str>) -> (String, Keyed) {
        match sub {
            Some("display") => ("u.display_key".into(), Keyed::Text),
            Some("type") if self.kind == ResourceKind::User => ("'direct'".into(), Keyed::Text),
            Some("type") => ("(CASE u.kind WHEN 1 THEN 'user' ELSE 'group' END)".into(), Keyed::Text),
            Some("$ref") => (
                format!(
                    "lower({} || (CASE u.kind WHEN 1 THEN '/Users/' ELSE '/Groups/' END) || u.id)",
                    sql_string(self.base_url)
                ),
                Keyed::Text,
            ),
            _ => ("u.id".into(), Keyed::Text),
        }
    }

    fn compare(&self, sql: &mut Sql, a: &AttrRef, op: CompareOp, lit: &Literal) {
        match self.target(a) {
            Target::Column { expr, keyed } => {
                // Nullable columns (externalId, active) must compare to false, not NULL, or
                // `not (...)` would drop the resources that lack the attribute.
                sql.push(&format!("({expr} IS NOT NULL AND "));
                self.compare_expr(sql, &expr, keyed, a, op, lit);
                sql.push(")");
            }
            Target::Relation { sub } => {
                sql.push(&self.relation_exists_open());
                sql.push(" AND ");
                let (expr, keyed) = self.relation_expr(sub.as_deref());
                self.compare_expr(sql, &expr, keyed, a, op, lit);
                sql.push(")");
            }
            Target::Values { path } => {
                sql.push("EXISTS (SELECT 1 FROM resource_values v WHERE v.resource_pk = r.pk AND v.path = ");
                sql.bind_text(path);
                sql.push(" AND ");
                self.compare_value_row(sql, "v", a, op, lit);
                sql.push(")");
            }
        }
    }

    /// Compares a `resource_values` row (alias `v`) with a literal.
    fn compare_value_row(&self, sql: &mut Sql, v: &str, a: &AttrRef, op: CompareOp, lit: &Literal) {
        match lit {
            Literal::Bool(b) => {
                sql.push(&format!("{v}.num {} ", sql_op(op)));
                sql.bind(Arg::Float(if *b { 1.0 } else { 0.0 }));
            }
            Literal::Integer(i) => {
                // Integer attributes only: exact, on the integer key (see `index::encode`).
                sql.push(&format!("{v}.str {} ", sql_op(op)));
                sql.bind_text(crate::index::integer_key(*i));
            }
            Literal::Decimal(d) => {
                sql.push(&format!("{v}.num {} ", sql_op(op)));
                sql.bind(Arg::Float(*d));
            }
            Literal::DateTime(t) => {
                sql.push(&format!("{v}.str {} ", sql_op(op)));
                sql.bind_text(text::sortable_datetime(*t));
            }
            Literal::String(s) => {
                let key = text::compare_key(s, a.case_exact).into_owned();
                text_compare(sql, &format!("{v}.str"), op, key);
            }
        }
    }

    fn compare_expr(&self, sql: &mut Sql, expr: &str, keyed: Keyed, a: &AttrRef, op: CompareOp, lit: &Literal) {
        match (keyed, lit) {
            (Keyed::Int, Literal::Bool(b)) => {
                sql.push(&format!("{expr} {} ", sql_op(op)));
                sql.bind_int(i64::from(*b));
            }
            (Keyed::Int, Literal::DateTime(t)) => {
                sql.push(&format!("{expr} {} ", sql_op(op)));
                sql.bind_int(nanos(*t));
            }
            (Keyed::Int, Literal::Integer(i)) => {
                sql.push(&format!("{expr} {} ", sql_op(op)));
                sql.bind_int(*i);
            }
            (Keyed::Version, Literal::String(s)) => {
                // meta.version is the ETag text `W/"<n>"` (caseExact).
                let expr = format!("('W/\"' || {expr} || '\"')");
                text_compare(sql, &expr, op, text::nfc(s).into_owned());
            }
            (_, Literal::String(s)) => {
                let key = text::compare_key(s, a.case_exact).into_owned();
                text_compare(sql, expr, op, key);
            }
            // The checker types every literal by its attribute; any other pairing matches nothing.
            _ => {
                sql.push("1=0");
            }
        }
    }

    fn value_path(&self, sql: &mut Sql, a: &AttrRef, inner: &ValidFilter) {
        if is_meta(a) {
            // `meta` is one object of columns: its value filter is the filter on them.
            self.filter(sql, inner);
            return;
        }
        match self.target(a) {
            Target::Relation { .. } => {
                sql.push(&self.relation_exists_open());
                sql.push(" AND ");
                self.element_filter(sql, inner, &ElementCtx::Relation);
                sql.push(")");
            }
            Target::Values { .. } | Target::Column { .. } => {
                sql.push("EXISTS (SELECT 1 FROM resource_values e WHERE e.resource_pk = r.pk AND ");
                let element = AttrRef { sub: None, ty: AttrType::Complex, ..a.clone() };
                self.path_condition(sql, "e", &element, "");
                sql.push(" AND ");
                self.element_filter(sql, inner, &ElementCtx::Values);
                sql.push(")");
            }
        }
    }

    /// A value filter's body over one element: `e` (a value row of the element) or the
    /// related row `u`.
    fn element_filter(&self, sql: &mut Sql, f: &ValidFilter, ctx: &ElementCtx) {
        match f {
            ValidFilter::Const(b) => {
                sql.push(if *b { "1=1" } else { "1=0" });
            }
            ValidFilter::And(terms) | ValidFilter::Or(terms) => {
                let join = if matches!(f, ValidFilter::And(_)) { " AND " } else { " OR " };
                sql.push("(");
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        sql.push(join);
                    }
                    self.element_filter(sql, t, ctx);
                }
                sql.push(")");
            }
            ValidFilter::Not(inner) => {
                sql.push("NOT (");
                self.element_filter(sql, inner, ctx);
                sql.push(")");
            }
            ValidFilter::Present(a) => match ctx {
                ElementCtx::Relation => {
                    let (expr, _) = self.relation_expr(a.sub.as_deref());
                    sql.push(&format!("{expr} IS NOT NULL"));
                }
                ElementCtx::Values => {
                    sql.push("EXISTS (SELECT 1 FROM resource_values w WHERE w.resource_pk = e.resource_pk AND w.elem = e.elem AND w.path = ");
                    sql.bind_text(a.path());
                    sql.push(")");
                }
            },
            ValidFilter::Compare(a, op, lit) => match ctx {
                ElementCtx::Relation => {
                    let (expr, keyed) = self.relation_expr(a.sub.as_deref());
                    self.compare_expr(sql, &expr, keyed, a, *op, lit);
                }
                ElementCtx::Values => {
                    sql.push("EXISTS (SELECT 1 FROM resource_values w WHERE w.resource_pk = e.resource_pk AND w.elem = e.elem AND w.path = ");
                    sql.bind_text(a.path());
                    sql.push(" AND ");
                    self.compare_value_row(sql, "w", a, *op, lit);
                    sql.push(")");
                }
            },
            // Value filters do not nest.
            ValidFilter::ValuePath(..) => {
                sql.push("1=0");
            }
        }
    }

    /// An ORDER BY key for `a`: a column, or the value of the primary element (else the
    /// first) from the value rows (RFC 7644 §3.4.2.3).
    pub fn sort_key(&self, sql: &mut Sql, a: &AttrRef) {
        match self.target(a) {
            Target::Column { expr, .. } => {
                sql.push(&byte_order(sql.backend, &expr));
            }
            Target::Relation { sub } => {
                let (expr, _) = self.relation_expr(sub.as_deref());
                let expr = byte_order(sql.backend, &expr);
                let (join_on, related) = match self.kind {
                    ResourceKind::Group => ("u.pk = m.member_pk", "m.group_pk = r.pk"),
                    ResourceKind::User => ("u.pk = m.group_pk", "m.member_pk = r.pk"),
                };
                sql.push(&format!(
                    "(SELECT {expr} FROM memberships m JOIN resources u ON {join_on} WHERE {related} ORDER BY u.pk LIMIT 1)"
                ));
            }
            Target::Values { path } => {
                let column = if matches!(a.ty, AttrType::Boolean | AttrType::Integer | AttrType::Decimal) {
                    "num"
                } else {
                    "str"
                };
                sql.push(&format!(
                    "(SELECT s.{column} FROM resource_values s WHERE s.resource_pk = r.pk AND s.path = "
                ));
                sql.bind_text(path);
                if a.multi_valued {
                    // The chosen element: the first primary one, else the first one.
                    let attr_path = AttrRef { sub: None, ..a.clone() }.path();
                    sql.push(" AND s.elem = COALESCE((SELECT p.elem FROM resource_values p WHERE p.resource_pk = r.pk AND p.path = ");
                    sql.bind_text(format!("{attr_path}.primary"));
                    sql.push(" AND p.num = 1 ORDER BY p.elem LIMIT 1), 0)");
                }
                sql.push(" ORDER BY s.elem LIMIT 1)");
            }
        }
    }
}

/// Whether `a` is the common `meta` attribute (or one of its sub-attributes).
fn is_meta(a: &AttrRef) -> bool {
    a.extension.is_none() && a.name == "meta"
}

enum ElementCtx {
    Values,
    Relation,
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        // Substring tests have their own SQL; reaching here is a compiler bug caught by tests.
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "=",
    }
}

/// A text comparison of `expr` with an already keyed literal.
fn text_compare(sql: &mut Sql, expr: &str, op: CompareOp, key: String) {
    let backend = sql.backend;
    let expr = &byte_order(backend, expr);
    if op.is_substring() && key.is_empty() {
        sql.push(&format!("{expr} IS NOT NULL"));
        return;
    }
    match (op, backend) {
        (CompareOp::Co, Backend::Sqlite) => {
            sql.push(&format!("instr({expr}, "));
            sql.bind_text(key);
            sql.push(") > 0");
        }
        (CompareOp::Co, Backend::Postgres) => {
            sql.push(&format!("strpos({expr}, "));
            sql.bind_text(key);
            sql.push(") > 0");
        }
        (CompareOp::Sw, Backend::Sqlite) => {
            let n = key.chars().count() as i64;
            sql.push(&format!("substr({expr}, 1, {n}) = "));
            sql.bind_text(key);
        }
        (CompareOp::Sw, Backend::Postgres) => {
            sql.push(&format!("starts_with({expr}, "));
            sql.bind_text(key);
            sql.push(")");
        }
        (CompareOp::Ew, Backend::Sqlite) => {
            let n = key.chars().count() as i64;
            sql.push(&format!("(length({expr}) >= {n} AND substr({expr}, -{n}) = "));
            sql.bind_text(key);
            sql.push(")");
        }
        (CompareOp::Ew, Backend::Postgres) => {
            let n = key.chars().count() as i64;
            sql.push(&format!("right({expr}, {n}) = "));
            sql.bind_text(key);
        }
        (CompareOp::Eq, Backend::Postgres) if expr.ends_with(".str") => {
            // The value index keys on the first 200 characters (migration 0003): say so, so
            // the planner uses it, then compare in full.
            sql.push(&format!("(left({expr}, 200) = left("));
            sql.bind_text(key.clone());
            sql.push(&format!(", 200) AND {expr} = "));
            sql.bind_text(key);
            sql.push(")");
        }
        (op, _) => {
            sql.push(&format!("{expr} {} ", sql_op(op)));
            sql.bind_text(key);
        }
    }
}

/// Text in byte order. PostgreSQL compares text by the database's default collation unless
/// told otherwise; the columns are declared "C" (byte order, as in SQLite and Rust), but
/// computed text (`meta.resourceType`, `members.type`, the ETag) is not.
fn byte_order(backend: Backend, expr: &str) -> String {
    let column = expr.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'));
    if backend == Backend::Postgres && !column { format!("({expr} COLLATE \"C\")") } else { expr.to_string() }
}

/// A SQL string literal (only for server-controlled text such as the base URL).
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Appends `ORDER BY`: the sort key with missing values last when ascending and first when
/// descending, then creation order (F-20).
pub(crate) fn order_by(
    sql: &mut Sql,
    compiler: &Compiler<'_>,
    kinds: &[ResourceKind],
    sort: Option<&(AttrRef, SortOrder)>,
) {
    match sort {
        None => {
            sql.push(" ORDER BY r.pk");
        }
        Some((a, order)) => {
            // Compile the key with the statement's arguments so its placeholders continue
            // the numbering; a placeholder used twice binds the same value on both drivers.
            let mut key = Sql { text: String::new(), args: std::mem::take(&mut sql.args), backend: sql.backend };
            if kinds.len() > 1 {
                // A root query: each resource type sorts by its own definition of the
                // attribute, and as missing when it has none (groups have no userName).
                key.push("CASE r.kind");
                for &kind in kinds {
                    key.push(&format!(" WHEN {} THEN ", kind_code(kind)));
                    match compiler.registry.check_sort(kind, &a.path()) {
                        Ok(attr) => {
                            key.push("(");
                            Compiler { registry: compiler.registry, kind, base_url: compiler.base_url }
                                .sort_key(&mut key, &attr);
                            key.push(")");
                        }
                        Err(_) => {
                            key.push("NULL");
                        }
                    }
                }
                key.push(" END");
            } else {
                compiler.sort_key(&mut key, a);
            }
            sql.args = key.args;
            let dir = match order {
                SortOrder::Ascending => "ASC",
                SortOrder::Descending => "DESC",
            };
            sql.push(&format!(" ORDER BY ({k}) IS NULL {dir}, {k} {dir}, r.pk", k = key.text));
        }
    }
}

/// The enterprise `manager.value` path, for clearing references to a deleted user.
pub(crate) fn manager_value_path() -> String {
    format!("{ENTERPRISE_USER}:manager.value")
}
