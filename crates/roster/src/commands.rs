//! The administrative commands: tokens, audit trail, provisioning log, admins and API
//! keys. They call the same services as the admin API and write the same audit rows, with
//! the CLI (and the OS user running it) as the actor.

use std::io::BufRead;

use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use roster_core::admin::TokenView;
use roster_core::audit::{Actor, AuditEvent, AuditQuery, ProvisioningQuery};
use roster_core::store::KeyScope;
use roster_core::tenants::{DEFAULT_TENANT, Expiry, IssuedToken};
use roster_core::{Core, Idp};
use roster_scim::text::format_datetime;

use crate::cli::{AdminCommand, ApiKeyCommand, AuditArgs, LogArgs, TokenCommand};
use crate::config::Config;

fn when(t: Option<OffsetDateTime>) -> String {
    t.map(format_datetime).unwrap_or_else(|| "-".into())
}

fn print_issued(issued: &IssuedToken, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(issued)?);
        return Ok(());
    }
    println!("{what} for {} (shown once; store it in the identity provider now):\n", issued.idp.display_name());
    println!("  Token:            {}", issued.token);
    println!("  Target SCIM URL:  {}", issued.target_url);
    println!("  Token id:         {}", issued.id);
    match issued.expires_at {
        Some(t) => println!("  Expires:          {}", format_datetime(t)),
        None => println!("  Expires:          never"),
    }
    Ok(())
}

fn print_token(t: &TokenView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(t)?);
    } else {
        println!("token {} is {}", t.id, t.status);
    }
    Ok(())
}

pub async fn token(core: &Core, config: &Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        TokenCommand::Create(args) => {
            let idp = Idp::parse(&args.idp).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown IdP {:?}: use entra, okta, onelogin, pingone, jumpcloud, google or other",
                    args.idp
                )
            })?;
            let expiry = Expiry::parse(&args.expires_in)?;
            core.ensure_tenant(DEFAULT_TENANT).await?;
            let issued = core.issue_token(&actor, &args.tenant, idp, &args.name, expiry, &config.public_url()).await?;
            print_issued(&issued, args.json, "SCIM token")
        }
        TokenCommand::List(args) => {
            let tokens = core.list_tokens(&args.tenant).await?;
            if args.json {
                println!("{}", serde_json::to_string(&tokens)?);
                return Ok(());
            }
            if tokens.is_empty() {
                println!("tenant {} has no SCIM tokens; create one with `roster token create --idp IDP`", args.tenant);
            }
            println!(
                "{:<18} {:<20} {:<9} {:<22} {:<22} {:<22} {:<9} NAME",
                "ID", "IDP", "STATUS", "CREATED", "EXPIRES", "LAST USED", "PRINT"
            );
            for t in tokens {
                println!(
                    "{:<18} {:<20} {:<9} {:<22} {:<22} {:<22} {:<9} {}",
                    t.id,
                    t.idp_name,
                    t.status,
                    format_datetime(t.created_at),
                    when(t.expires_at),
                    when(t.last_used_at),
                    t.fingerprint,
                    t.name
                );
            }
            Ok(())
        }
        TokenCommand::Enable(args) => {
            print_token(&core.set_token_active(&actor, &args.tenant, &args.id, true).await?, args.json)
        }
        TokenCommand::Disable(args) => {
            print_token(&core.set_token_active(&actor, &args.tenant, &args.id, false).await?, args.json)
        }
        TokenCommand::Renew(args) => {
            let expiry = Expiry::parse(&args.expires_in)?;
            let issued = core.renew_token(&actor, &args.tenant, &args.id, expiry, &config.public_url()).await?;
            print_issued(&issued, args.json, "New secret")
        }
        TokenCommand::Remove(args) => {
            core.remove_token(&actor, &args.tenant, &args.id).await?;
            if args.json {
                println!("{}", json!({"id": args.id, "removed": true}));
            } else {
                println!("token {} removed", args.id);
            }
            Ok(())
        }
    }
}

fn parse_time(s: Option<&str>) -> anyhow::Result<Option<OffsetDateTime>> {
    s.map(|s| OffsetDateTime::parse(s, &Rfc3339).map_err(|_| anyhow::anyhow!("{s:?} is not an RFC 3339 time")))
        .transpose()
}

pub async fn audit(core: &Core, args: AuditArgs) -> anyhow::Result<()> {
    let tenant = match &args.tenant {
        Some(slug) => Some(Some(core.tenant(slug).await?.id)),
        None => None,
    };
    let event = match &args.event {
        Some(e) => Some(AuditEvent::parse(e).ok_or_else(|| anyhow::anyhow!("unknown audit event {e:?}"))?),
        None => None,
    };
    let events = core
        .audit_events(&AuditQuery {
            tenant,
            event,
            since: parse_time(args.since.as_deref())?,
            until: None,
            before_id: None,
            limit: args.limit.clamp(1, 10_000),
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string(&events)?);
        return Ok(());
    }
    println!("{:<22} {:<10} {:<24} {:<28} {:<26} DETAILS", "TIME", "TENANT", "ACTOR", "EVENT", "TARGET");
    for e in events {
        println!(
            "{:<22} {:<10} {:<24} {:<28} {:<26} {}",
            format_datetime(e.at),
            e.tenant.as_deref().unwrap_or("-"),
            e.actor.to_string(),
            e.event_name,
            e.target,
            e.details
        );
    }
    Ok(())
}

pub async fn provisioning_log(core: &Core, args: LogArgs) -> anyhow::Result<()> {
    let tenant = core.tenant(&args.tenant).await?;
    let status_class = match args.status.as_deref() {
        None => None,
        Some(s) => Some(
            s.trim_end_matches(['x', 'X'])
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .ok_or_else(|| anyhow::anyhow!("--status takes 2xx, 4xx or 5xx"))?,
        ),
    };
    let rows = core
        .provisioning_log(&ProvisioningQuery {
            tenant: tenant.id,
            token_id: args.token,
            status_class,
            limit: args.limit.clamp(1, 10_000),
            ..Default::default()
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!("{:<22} {:<6} {:<7} {:<18} {:<9} SUMMARY", "TIME", "STATUS", "METHOD", "TOKEN", "LATENCY");
    for r in rows {
        println!(
            "{:<22} {:<6} {:<7} {:<18} {:<9} {}{}",
            format_datetime(r.at),
            r.status,
            r.method,
            r.token_id.as_deref().unwrap_or("-"),
            format!("{}ms", r.latency_us / 1000),
            r.summary,
            if r.notes.is_empty() { String::new() } else { format!(" [{}]", r.notes) }
        );
    }
    Ok(())
}

/// A password from stdin, or a generated one (which is printed).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_string(), false));
    }
    let mut bytes = [0u8; 12];
    getrandom_fill(&mut bytes)?;
    Ok((bytes.iter().map(|b| format!("{b:02x}")).collect(), true))
}

fn getrandom_fill(buf: &mut [u8]) -> anyhow::Result<()> {
    use roster_core::IdGen;
    roster_core::RandomIds.fill(buf).map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn admin(core: &Core, cmd: AdminCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        AdminCommand::Create { username, password_stdin } => {
            let (pw, generated) = password(password_stdin)?;
            core.create_admin(&actor, &username, &pw).await?;
            println!("admin {username} created");
            if generated {
                println!("password (shown once): {pw}");
            }
        }
        AdminCommand::SetPassword { username, password_stdin } => {
            let (pw, generated) = password(password_stdin)?;
            core.set_admin_password(&actor, &username, &pw).await?;
            println!("password of admin {username} changed; their sessions have ended");
            if generated {
                println!("new password (shown once): {pw}");
            }
        }
        AdminCommand::List { json } => {
            let admins = core.admins().await?;
            if json {
                let list: Vec<_> = admins
                    .iter()
                    .map(|a| json!({"username": a.username, "created_at": format_datetime(a.created_at)}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for a in admins {
                    println!("{}\tcreated {}", a.username, format_datetime(a.created_at));
                }
            }
        }
        AdminCommand::ApiKey(ApiKeyCommand::Create { name, tenant, scope, json }) => {
            let scope = KeyScope::parse(&scope).ok_or_else(|| anyhow::anyhow!("--scope takes admin or read"))?;
            let issued = core.create_api_key(&actor, &name, tenant.as_deref(), scope).await?;
            if json {
                println!("{}", serde_json::to_string(&issued)?);
            } else {
                println!(
                    "Admin API key (shown once):\n\n  Key:    {}\n  Id:     {}\n  Scope:  {}\n  Tenant: {}",
                    issued.key,
                    issued.id,
                    scope.as_str(),
                    issued.tenant.as_deref().unwrap_or("all")
                );
            }
        }
        AdminCommand::ApiKey(ApiKeyCommand::List { json }) => {
            let keys = core.api_keys().await?;
            if json {
                println!("{}", serde_json::to_string(&keys)?);
            } else {
                for k in keys {
                    println!("{}\t{}\t{}\tlast used {}", k.id, k.scope.as_str(), k.name, when(k.last_used_at));
                }
            }
        }
        AdminCommand::ApiKey(ApiKeyCommand::Delete { id }) => {
            core.delete_api_key(&actor, &id).await?;
            println!("API key {id} deleted");
        }
    }
    Ok(())
}

pub async fn attribute(core: &Core, cmd: crate::cli::AttributeCommand) -> anyhow::Result<()> {
    use crate::cli::AttributeCommand;
    let actor = Actor::cli();
    match cmd {
        AttributeCommand::Define { name, ty, multi_valued, description, tenant, json } => {
            let view = core.define_attribute(&actor, &tenant, &name, &ty, multi_valued, &description).await?;
            if json {
                println!("{}", serde_json::to_string(&view)?);
            } else {
                println!(
                    "defined {} ({}{}); IdPs map it as\n  {}",
                    view.name,
                    view.ty,
                    if view.multi_valued { ", multi-valued" } else { "" },
                    view.path
                );
            }
        }
        AttributeCommand::List { tenant, json } => {
            let schema = core.custom_schema(&tenant).await?;
            if json {
                println!("{}", serde_json::to_string(&schema)?);
            } else {
                println!("custom extension: {}", schema.urn);
                for a in schema.attributes {
                    println!(
                        "  {:<24} {:<10} {:<6} {}",
                        a.name,
                        a.ty,
                        if a.multi_valued { "multi" } else { "" },
                        a.description
                    );
                }
            }
        }
        AttributeCommand::Remove { name, tenant } => {
            core.remove_attribute(&actor, &tenant, &name).await?;
            println!("removed {name} and its stored values");
        }
    }
    Ok(())
}

fn print_tenant(tenant: &roster_core::Tenant, config: &Config, json: bool) -> anyhow::Result<()> {
    let url = roster_core::tenants::target_url(&config.public_url(), &tenant.slug);
    if json {
        println!("{}", json!({"slug": tenant.slug, "target_url": url, "settings": tenant.settings}));
    } else {
        println!("tenant {} (SCIM base URL {url})", tenant.slug);
        let settings = serde_json::to_value(&tenant.settings)?;
        if let Some(o) = settings.as_object() {
            for (k, v) in o {
                println!("  {k:<22} {v}");
            }
        }
    }
    Ok(())
}

pub async fn tenant_show(core: &Core, config: &Config, slug: &str, json: bool) -> anyhow::Result<()> {
    print_tenant(&core.tenant(slug).await?, config, json)
}

pub async fn tenant_set(core: &Core, config: &Config, args: crate::cli::TenantSet) -> anyhow::Result<()> {
    let tenant = core.tenant(&args.slug).await?;
    let mut settings = serde_json::to_value(&tenant.settings)?;
    let mut set = |key: &str, value: Option<serde_json::Value>| {
        if let Some(v) = value {
            settings[key] = v;
        }
    };
    let normalized =
        |s: Option<String>| s.map(|s| serde_json::Value::String(s.trim().to_ascii_lowercase().replace('-', "_")));
    set("vendor", args.vendor.map(serde_json::Value::String));
    set("username_changes", normalized(args.username_changes));
    set("unknown_attributes", normalized(args.unknown_attributes));
    set("unknown_members", normalized(args.unknown_members));
    set("nested_groups", args.nested_groups.map(serde_json::Value::Bool));
    set("group_patch_response", normalized(args.group_patch_response));
    set("max_tokens", args.max_tokens.map(serde_json::Value::from));
    let settings: roster_core::TenantSettings =
        serde_json::from_value(settings).map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
    let updated = core.change_settings(&Actor::cli(), &args.slug, settings).await?;
    print_tenant(&updated, config, args.json)
}
