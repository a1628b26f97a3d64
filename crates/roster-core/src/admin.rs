//! The administrator's side: admin accounts (argon2id passwords), sign-in sessions, admin
//! API keys, the SCIM token lifecycle, and reading the audit trail and provisioning log.
//! The admin API, the portal and the CLI all call these, so every door writes the same
//! audit rows.

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{
    Actor, ActorKind, AuditEntry, AuditEvent, AuditQuery, AuditRecord, ProvisioningQuery, ProvisioningRecord,
};
use crate::error::{AuthFailure, Error, Result};
use crate::model::{Idp, Tenant, TenantId, TokenRecord, TokenStatus};
use crate::scim::Core;
use crate::store::{AdminRecord, ApiKeyRecord, KeyScope, NewToken, TokenChange};
use crate::tenants::{Expiry, IssuedToken, target_url};
use crate::tokens;

/// How long a portal session lasts.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
/// The shortest password an administrator may choose.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Who is calling the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminPrincipal {
    /// A signed-in administrator (every tenant).
    Admin { id: i64, username: String, csrf: String },
    /// An admin API key.
    ApiKey { id: String, tenant: Option<TenantId>, scope: KeyScope },
}

impl AdminPrincipal {
    pub fn actor(&self) -> Actor {
        match self {
            AdminPrincipal::Admin { username, .. } => Actor::admin(username),
            AdminPrincipal::ApiKey { id, .. } => Actor::api_key(id),
        }
    }

    /// Whether the principal may change things (read-only keys may not).
    pub fn can_write(&self) -> bool {
        !matches!(self, AdminPrincipal::ApiKey { scope: KeyScope::Read, .. })
    }

    /// Whether the principal may act on `tenant`.
    pub fn can_access(&self, tenant: &Tenant) -> bool {
        match self {
            AdminPrincipal::Admin { .. } => true,
            AdminPrincipal::ApiKey { tenant: scope, .. } => scope.is_none_or(|t| t == tenant.id),
        }
    }

    /// Whether the principal sees installation-wide things (admins, all tenants).
    pub fn is_global(&self) -> bool {
        match self {
            AdminPrincipal::Admin { .. } => true,
            AdminPrincipal::ApiKey { tenant, scope, .. } => tenant.is_none() && *scope == KeyScope::Admin,
        }
    }
}

/// A token as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: String,
    pub idp: Idp,
    pub idp_name: &'static str,
    pub name: String,
    /// `active`, `inactive` or `expired`.
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// The first 8 hex digits of the secret's hash: tells tokens apart, reveals nothing.
    pub fingerprint: String,
}

impl TokenView {
    pub fn new(t: &TokenRecord, now: OffsetDateTime) -> TokenView {
        let status = match t.status {
            TokenStatus::Inactive => "inactive",
            TokenStatus::Active if t.expires_at.is_some_and(|e| e <= now) => "expired",
            TokenStatus::Active => "active",
        };
        TokenView {
            id: t.id.clone(),
            idp: t.idp,
            idp_name: t.idp.display_name(),
            name: t.name.clone(),
            status,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            fingerprint: tokens::fingerprint(&t.secret_hash),
        }
    }
}

/// An admin API key just created: the only time its secret is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedKey {
    pub id: String,
    /// The bearer key. Shown once; never stored.
    pub key: String,
    pub name: String,
    pub scope: KeyScope,
    pub tenant: Option<String>,
}

/// An API key as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub scope: KeyScope,
    pub tenant: Option<TenantId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// A successful sign-in: the cookie value (shown to the browser only) and the CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub cookie: String,
    pub csrf: String,
    pub username: String,
    pub expires_at: OffsetDateTime,
}

fn describe_token(t: &TokenRecord) -> String {
    let mut details = format!("IdP: {}", t.idp.display_name());
    if !t.name.is_empty() {
        details.push_str(&format!("; name: {}", t.name));
    }
    details
}

fn expiry_text(expires_at: Option<OffsetDateTime>) -> String {
    match expires_at {
        Some(t) => format!("expires {}", roster_scim::text::format_datetime(t)),
        None => "never expires".into(),
    }
}

/// A dummy hash verified when a username does not exist, so a failed sign-in takes the
/// same time either way (no username probing by timing).
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| Argon2::default().hash_password(b"roster-dummy-password").ok().map(|h| h.to_string()));

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Storage(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Storage(format!("password hashing task failed: {e}")))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::Invalid(format!("passwords must be at least {MIN_PASSWORD_LEN} characters")));
    }
    if password.len() > 1024 {
        return Err(Error::Invalid("passwords are at most 1024 bytes".into()));
    }
    Ok(())
}

fn check_username(username: &str) -> Result<()> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{username:?} is not a valid admin username (1 to 64 letters, digits, '.', '_', '-', '@')"
        )))
    }
}

/// Whether an `Authorization` header value carries an admin API key.
pub(crate) fn is_api_key(header: &str) -> bool {
    header.trim().split_once(' ').is_some_and(|(_, c)| tokens::parse_prefixed(c.trim(), tokens::KEY_PREFIX).is_some())
}

impl Core {
    fn audit(
        &self,
        tenant: Option<TenantId>,
        actor: &Actor,
        event: AuditEvent,
        target: String,
        details: String,
    ) -> AuditEntry {
        AuditEntry { tenant, at: self.clock.now(), actor: actor.clone(), event, target, details }
    }

    fn random_hex(&self, bytes: usize) -> Result<String> {
        let mut buf = vec![0u8; bytes];
        self.ids.fill(&mut buf)?;
        Ok(hex::encode(buf))
    }

    // --- Admin accounts ---------------------------------------------------------------

    /// Creates an administrator.
    pub async fn create_admin(&self, actor: &Actor, username: &str, password: &str) -> Result<AdminRecord> {
        check_username(username)?;
        check_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let audit = self.audit(None, actor, AuditEvent::AdminCreated, format!("admin {username}"), String::new());
        self.store.create_admin(username, &hash, self.clock.now(), audit).await
    }

    /// Sets an administrator's password (their sessions end).
    pub async fn set_admin_password(&self, actor: &Actor, username: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let audit =
            self.audit(None, actor, AuditEvent::AdminPasswordChanged, format!("admin {username}"), String::new());
        if self.store.set_admin_password(username, &hash, self.clock.now(), audit).await? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("no admin named {username:?}")))
        }
    }

    pub async fn admins(&self) -> Result<Vec<AdminRecord>> {
        self.store.admins().await
    }

    /// On first start: if there is no administrator, create `admin` with `password`, or with
    /// a random one that is returned (to print once).
    pub async fn ensure_first_admin(&self, password: Option<&str>) -> Result<Option<String>> {
        if self.store.admin_count().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_string(), None),
            None => {
                let p = self.random_hex(12)?;
                (p.clone(), Some(p))
            }
        };
        match self.create_admin(&Actor::system(), "admin", &password).await {
            Ok(_) => Ok(generated),
            // Another instance created it first.
            Err(Error::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Signs an administrator in. Both outcomes are audited; the failure does not say
    /// whether the username exists.
    pub async fn sign_in(&self, username: &str, password: &str, client: &str) -> Result<SignedIn> {
        let admin = self.store.admin_by_username(username).await?;
        let ok = match &admin {
            Some(a) => verify_password(password.to_string(), a.password_hash.clone()).await,
            None => {
                if let Some(dummy) = DUMMY_HASH.as_ref() {
                    verify_password(password.to_string(), dummy.clone()).await;
                }
                false
            }
        };
        let target = format!("admin {}", username.chars().take(64).collect::<String>());
        let (Some(admin), true) = (admin, ok) else {
            let actor = Actor { kind: ActorKind::Admin, name: username.chars().take(64).collect() };
            let audit = self.audit(None, &actor, AuditEvent::AdminSignInFailed, target, format!("from {client}"));
            self.store.append_audit(&audit).await?;
            return Err(Error::Unauthorized(AuthFailure::Invalid));
        };
        let cookie = self.random_hex(32)?;
        let csrf = self.random_hex(16)?;
        let now = self.clock.now();
        let expires_at = now + SESSION_LIFETIME;
        let audit = self.audit(
            None,
            &Actor::admin(&admin.username),
            AuditEvent::AdminSignedIn,
            target,
            format!("from {client}"),
        );
        self.store.create_session(admin.id, tokens::hash_secret(&cookie), &csrf, now, expires_at, audit).await?;
        Ok(SignedIn { cookie, csrf, username: admin.username, expires_at })
    }

    /// The administrator behind a session cookie.
    pub async fn session(&self, cookie: &str) -> Result<AdminPrincipal> {
        if cookie.len() != 64 || !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Unauthorized(AuthFailure::Invalid));
        }
        let session = self
            .store
            .session(&tokens::hash_secret(cookie), self.clock.now())
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        Ok(AdminPrincipal::Admin { id: session.admin.id, username: session.admin.username, csrf: session.csrf })
    }

    pub async fn sign_out(&self, cookie: &str, principal: &AdminPrincipal) -> Result<()> {
        let target = match principal {
            AdminPrincipal::Admin { username, .. } => format!("admin {username}"),
            AdminPrincipal::ApiKey { id, .. } => format!("API key {id}"),
        };
        let audit = self.audit(None, &principal.actor(), AuditEvent::AdminSignedOut, target, String::new());
        self.store.delete_session(&tokens::hash_secret(cookie), Some(audit)).await
    }

    // --- Admin API keys ---------------------------------------------------------------

    /// Creates an admin API key (`tenant` limits it to one tenant; `Read` keys only read).
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
        tenant: Option<&str>,
        scope: KeyScope,
    ) -> Result<IssuedKey> {
        let tenant = match tenant {
            Some(slug) => Some(self.tenant(slug).await?),
            None => None,
        };
        let generated = tokens::generate_prefixed(self.ids.as_ref(), tokens::KEY_PREFIX)?;
        let name = name.trim().to_string();
        let record = ApiKeyRecord {
            id: generated.id.clone(),
            name: name.clone(),
            secret_hash: generated.secret_hash,
            tenant: tenant.as_ref().map(|t| t.id),
            scope,
            created_at: self.clock.now(),
            created_by: actor.to_string(),
            last_used_at: None,
        };
        let details = format!(
            "scope: {}; tenant: {}{}",
            scope.as_str(),
            tenant.as_ref().map_or("all", |t| t.slug.as_str()),
            if name.is_empty() { String::new() } else { format!("; name: {name}") }
        );
        let audit = self.audit(
            tenant.as_ref().map(|t| t.id),
            actor,
            AuditEvent::ApiKeyCreated,
            format!("API key {}", generated.id),
            details,
        );
        self.store.insert_api_key(record, audit).await?;
        Ok(IssuedKey { id: generated.id, key: generated.text, name, scope, tenant: tenant.map(|t| t.slug) })
    }

    pub async fn api_keys(&self) -> Result<Vec<KeyView>> {
        Ok(self
            .store
            .api_keys()
            .await?
            .into_iter()
            .map(|k| KeyView {
                id: k.id,
                name: k.name,
                scope: k.scope,
                tenant: k.tenant,
                created_at: k.created_at,
                created_by: k.created_by,
                last_used_at: k.last_used_at,
            })
            .collect())
    }

    pub async fn delete_api_key(&self, actor: &Actor, id: &str) -> Result<()> {
        let key = self.store.api_key(id).await?.ok_or_else(|| Error::NotFound(format!("no API key {id:?}")))?;
        let audit = self.audit(
            key.tenant,
            actor,
            AuditEvent::ApiKeyDeleted,
            format!("API key {id}"),
            format!("name: {}", key.name),
        );
        self.store.delete_api_key(id, audit).await?;
        Ok(())
    }

    /// Authenticates an admin API key from an `Authorization` header value. SCIM tokens are
    /// refused here, as API keys are refused on SCIM writes.
    pub async fn authenticate_api_key(&self, authorization: &str) -> Result<AdminPrincipal> {
        let Some((scheme, credentials)) = authorization.trim().split_once(' ') else {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        }
        let (id, secret) = tokens::parse_prefixed(credentials.trim(), tokens::KEY_PREFIX)
            .ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let key = self.store.api_key(id).await?.ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        if !tokens::verify(secret, &key.secret_hash) {
            return Err(Error::Unauthorized(AuthFailure::Invalid));
        }
        self.touch(&key.id, self.clock.now(), false).await?;
        Ok(AdminPrincipal::ApiKey { id: key.id, tenant: key.tenant, scope: key.scope })
    }

    /// Authenticates a SCIM read (GET, `/.search`): a SCIM token of the tenant, or an admin
    /// API key with the read scope that may act on it, so the application receiving `notice`
    /// events can fetch the current state in the same format. Keys only read: SCIM writes go
    /// through [`Core::authenticate`], which refuses them.
    pub async fn authenticate_reader(
        &self,
        slug: &str,
        authorization: Option<&str>,
        base_url: String,
    ) -> Result<crate::scim::ScimCtx> {
        let header = authorization.map(str::trim).unwrap_or_default();
        if !is_api_key(header) {
            return self.authenticate(slug, authorization, base_url).await;
        }
        let tenant = self.scim_reader_key(slug, header).await?.ok_or(Error::Unauthorized(AuthFailure::Invalid))?;
        let registry = self.registry(&tenant).await?;
        Ok(crate::scim::ScimCtx { tenant, registry, base_url, token: None, request: None })
    }

    /// The tenant `slug` if `header` holds a valid read-scope API key that may act on it.
    /// Admin-scope keys are for the admin API only.
    pub(crate) async fn scim_reader_key(&self, slug: &str, header: &str) -> Result<Option<Tenant>> {
        let principal = match self.authenticate_api_key(header).await {
            Ok(p) => p,
            Err(Error::Unauthorized(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let AdminPrincipal::ApiKey { tenant: scope, scope: KeyScope::Read, .. } = principal else {
            return Ok(None);
        };
        let Some(tenant) = self.store.tenant_by_slug(slug).await? else { return Ok(None) };
        Ok(scope.is_none_or(|t| t == tenant.id).then_some(tenant))
    }

    // --- SCIM token lifecycle ---------------------------------------------------------

    /// Issues a SCIM token for `tenant`: at most `max_tokens` (2 by default) exist at once,
    /// counting inactive and expired ones.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        idp: Idp,
        name: &str,
        expiry: Expiry,
        public_url: &str,
    ) -> Result<IssuedToken> {
        let tenant = self.tenant(tenant_slug).await?;
        let name = name.trim();
        if name.chars().count() > 100 {
            return Err(Error::Invalid("token names are at most 100 characters".into()));
        }
        let generated = tokens::generate(self.ids.as_ref())?;
        let now = self.clock.now();
        let expires_at = expiry.at(now);
        let token = NewToken {
            id: generated.id.clone(),
            idp,
            name: name.to_string(),
            secret_hash: generated.secret_hash,
            created_at: now,
            expires_at,
        };
        let mut details = format!("IdP: {}", idp.display_name());
        if !name.is_empty() {
            details.push_str(&format!("; name: {name}"));
        }
        details.push_str(&format!("; {}", expiry_text(expires_at)));
        let audit = self.audit(
            Some(tenant.id),
            actor,
            AuditEvent::ScimTokenCreated,
            format!("token {}", generated.id),
            details,
        );
        let record = self.store.insert_token(tenant.id, token, tenant.settings.max_tokens, audit).await?;
        Ok(IssuedToken {
            id: record.id,
            token: generated.text,
            target_url: target_url(public_url, &tenant.slug),
            idp,
            status: TokenStatus::Active.as_str(),
            expires_at: record.expires_at,
        })
    }

    /// The tenant's tokens, oldest first.
    pub async fn list_tokens(&self, tenant_slug: &str) -> Result<Vec<TokenView>> {
        let tenant = self.tenant(tenant_slug).await?;
        let now = self.clock.now();
        Ok(self.store.tokens(tenant.id).await?.iter().map(|t| TokenView::new(t, now)).collect())
    }

    async fn token_record(&self, tenant: &Tenant, token_id: &str) -> Result<TokenRecord> {
        self.store
            .tokens(tenant.id)
            .await?
            .into_iter()
            .find(|t| t.id == token_id)
            .ok_or_else(|| Error::NotFound(format!("tenant {} has no token {token_id:?}", tenant.slug)))
    }

    /// Sets a token active or inactive; an inactive token is refused until set active again.
    pub async fn set_token_active(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        token_id: &str,
        active: bool,
    ) -> Result<TokenView> {
        let tenant = self.tenant(tenant_slug).await?;
        let current = self.token_record(&tenant, token_id).await?;
        let (status, event) = if active {
            (TokenStatus::Active, AuditEvent::ScimTokenEnabled)
        } else {
            (TokenStatus::Inactive, AuditEvent::ScimTokenDisabled)
        };
        let audit = self.audit(Some(tenant.id), actor, event, format!("token {token_id}"), describe_token(&current));
        let updated = self
            .store
            .change_token(tenant.id, token_id, TokenChange::Status(status), audit)
            .await?
            .ok_or_else(|| Error::NotFound(format!("tenant {} has no token {token_id:?}", tenant.slug)))?;
        Ok(TokenView::new(&updated, self.clock.now()))
    }

    /// Gives a token a new secret and expiry; the old secret stops working at once.
    pub async fn renew_token(
        &self,
        actor: &Actor,
        tenant_slug: &str,
        token_id: &str,
        expiry: Expiry,
        public_url: &str,
    ) -> Result<IssuedToken> {
        let tenant = self.tenant(tenant_slug).await?;
        let current = self.token_record(&tenant, token_id).await?;
        let (text, secret_hash) = tokens::new_secret(self.ids.as_ref(), token_id)?;
        let expires_at = expiry.at(self.clock.now());
        let details = format!("{}; {}", describe_token(&current), expiry_text(expires_at));
        let audit =
            self.audit(Some(tenant.id), actor, AuditEvent::ScimTokenRenewed, format!("token {token_id}"), details);
        let updated = self
            .store
            .change_token(tenant.id, token_id, TokenChange::Renew { secret_hash, expires_at }, audit)
            .await?
            .ok_or_else(|| Error::NotFound(format!("tenant {} has no token {token_id:?}", tenant.slug)))?;
        Ok(IssuedToken {
            id: updated.id,
            token: text,
            target_url: target_url(public_url, &tenant.slug),
            idp: updated.idp,
            status: updated.status.as_str(),
            expires_at: updated.expires_at,
        })
    }

    /// Removes a token; its slot is free.
    pub async fn remove_token(&self, actor: &Actor, tenant_slug: &str, token_id: &str) -> Result<()> {
        let tenant = self.tenant(tenant_slug).await?;
        let current = self.token_record(&tenant, token_id).await?;
        let audit = self.audit(
            Some(tenant.id),
            actor,
            AuditEvent::ScimTokenDeleted,
            format!("token {token_id}"),
            describe_token(&current),
        );
        self.store
            .change_token(tenant.id, token_id, TokenChange::Delete, audit)
            .await?
            .ok_or_else(|| Error::NotFound(format!("tenant {} has no token {token_id:?}", tenant.slug)))?;
        Ok(())
    }

    // --- Audit trail and provisioning log -----------------------------------------------

    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        self.store.audit_events(query).await
    }

    pub async fn provisioning_log(&self, query: &ProvisioningQuery) -> Result<Vec<ProvisioningRecord>> {
        self.store.provisioning_log(query).await
    }

    /// Deletes provisioning-log rows older than `retention`.
    pub async fn prune_provisioning_log(&self, retention: time::Duration) -> Result<u64> {
        self.store.prune_provisioning_log(self.clock.now() - retention).await
    }
}
