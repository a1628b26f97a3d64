//! `roster stream`: the tenant's event streams (RFC 9967 SETs for the application that owns
//! the data), pushed (RFC 8935) or polled (RFC 8936). The same services as the admin API,
//! with the CLI as the actor.

use clap::{Args, Subcommand};
use serde_json::json;

use roster_core::Core;
use roster_core::audit::Actor;
use roster_core::events::{StreamSpec, StreamView};
use roster_core::tenants::DEFAULT_TENANT;
use roster_scim::text::format_datetime;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Register a receiver: --push URL (Roster POSTs each SET) or --poll (the receiver polls)
    Create(StreamCreate),
    /// List the tenant's streams
    List(StreamTarget),
    /// Show a stream: status, cursor, last error
    Show(StreamId),
    /// Stop delivering (events keep accumulating; nothing is dropped)
    Pause(StreamId),
    /// Deliver again from where the stream stopped
    Resume {
        #[command(flatten)]
        target: StreamId,
        /// First move past the next event (one the receiver keeps rejecting)
        #[arg(long)]
        skip: bool,
    },
    /// Remove a stream and its delivery log
    Remove(StreamId),
    /// Show a stream's delivery log (newest first)
    Deliveries {
        #[command(flatten)]
        target: StreamId,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Print the tenant's public keys (JWKS) that verify its SETs
    Jwks(StreamTarget),
}

#[derive(Debug, Args)]
pub struct StreamTarget {
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StreamId {
    /// The stream id (from `roster stream list`)
    pub id: String,
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StreamCreate {
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
    /// Push: the receiver's endpoint (https; http only on loopback or with --allow-http)
    #[arg(long, value_name = "URL", conflicts_with = "poll")]
    pub push: Option<String>,
    /// Poll: the receiver polls Roster with the token printed once
    #[arg(long)]
    pub poll: bool,
    /// Push: the Authorization header value to send, e.g. "Bearer abc"
    #[arg(long, value_name = "VALUE", requires = "push")]
    pub authorization: Option<String>,
    /// Event types, comma-separated: create, patch, put, delete, activate, deactivate (default: all)
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// notice (changed attribute names; the default) or full (the resource's data)
    #[arg(long, default_value = "notice")]
    pub mode: String,
    /// The SET audience (repeatable; default: the push endpoint or the poll URL)
    #[arg(long)]
    pub aud: Vec<String>,
    /// Send unsigned SETs (alg none): only on a trusted network
    #[arg(long)]
    pub unsigned: bool,
    /// Allow a plain-http push endpoint off loopback (a trusted network)
    #[arg(long)]
    pub allow_http: bool,
    #[arg(long, default_value = "")]
    pub name: String,
    /// URL clients reach Roster at (the SETs' issuer, the poll URL) [env: ROSTER_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    #[arg(long)]
    pub json: bool,
}

fn print_stream(s: &StreamView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(s)?);
        return Ok(());
    }
    println!("stream {} ({}, {}) is {}", s.id, s.delivery.as_str(), s.mode.as_str(), s.status.as_str());
    if !s.name.is_empty() {
        println!("  name:        {}", s.name);
    }
    match (&s.endpoint, &s.poll_url) {
        (Some(e), _) => {
            println!("  endpoint:    {e}{}", if s.authorization_set { " (with Authorization)" } else { "" })
        }
        (None, Some(p)) => println!("  poll URL:    {p}"),
        _ => {}
    }
    println!("  events:      {}", s.events.join(", "));
    println!("  aud:         {}", s.aud.join(", "));
    println!("  signed:      {}", if s.signed { "ES256 (keys: see jwks)" } else { "no (alg none)" });
    println!("  jwks:        {}", s.jwks_url);
    println!("  position:    {} of {}", s.cursor, s.latest);
    if let Some(r) = &s.paused_reason {
        println!("  paused:      {r}");
    }
    if s.flagged {
        println!("  FLAGGED:     needs attention");
    }
    if let Some(e) = &s.last_error {
        println!("  last error:  {e} (after {} attempts)", s.attempts);
    }
    if let Some(t) = s.last_success_at {
        println!("  last success {}", format_datetime(t));
    }
    Ok(())
}

pub async fn run(core: &Core, config: &Config, cmd: StreamCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let public_url = config.public_url();
    match cmd {
        StreamCommand::Create(args) => {
            let spec = StreamSpec {
                name: args.name,
                delivery: if args.poll { "poll".into() } else { "push".into() },
                endpoint: args.push,
                authorization: args.authorization,
                events: args.events,
                mode: Some(args.mode),
                aud: args.aud,
                unsigned: args.unsigned,
                allow_http: args.allow_http,
            };
            if !args.poll && spec.endpoint.is_none() {
                anyhow::bail!("give --push URL or --poll");
            }
            let issued = core.create_stream(&actor, &args.tenant, &spec, &public_url).await?;
            if args.json {
                println!("{}", serde_json::to_string(&issued)?);
                return Ok(());
            }
            print_stream(&issued.stream, false)?;
            if let Some(token) = &issued.poll_token {
                println!("\nPoll token (shown once; give it to the receiver):\n\n  {token}");
            }
            Ok(())
        }
        StreamCommand::List(t) => {
            let streams = core.list_streams(&t.tenant, &public_url).await?;
            if t.json {
                println!("{}", serde_json::to_string(&streams)?);
                return Ok(());
            }
            if streams.is_empty() {
                println!(
                    "tenant {} has no event streams; add one with `roster stream create --push URL` or --poll",
                    t.tenant
                );
            }
            for s in streams {
                println!(
                    "{}\t{}\t{}\t{}\t{}/{}\t{}{}",
                    s.id,
                    s.delivery.as_str(),
                    s.status.as_str(),
                    s.mode.as_str(),
                    s.cursor,
                    s.latest,
                    s.endpoint.as_deref().or(s.poll_url.as_deref()).unwrap_or("-"),
                    if s.flagged { "\tFLAGGED" } else { "" }
                );
            }
            Ok(())
        }
        StreamCommand::Show(t) => print_stream(&core.get_stream(&t.tenant, &t.id, &public_url).await?, t.json),
        StreamCommand::Pause(t) => {
            print_stream(&core.pause_stream(&actor, &t.tenant, &t.id, &public_url).await?, t.json)
        }
        StreamCommand::Resume { target: t, skip } => {
            print_stream(&core.resume_stream(&actor, &t.tenant, &t.id, skip, &public_url).await?, t.json)
        }
        StreamCommand::Remove(t) => {
            core.delete_stream(&actor, &t.tenant, &t.id).await?;
            if t.json {
                println!("{}", json!({"id": t.id, "removed": true}));
            } else {
                println!("stream {} removed", t.id);
            }
            Ok(())
        }
        StreamCommand::Deliveries { target: t, limit } => {
            let rows = core.stream_deliveries(&t.tenant, &t.id, None, limit).await?;
            if t.json {
                println!("{}", serde_json::to_string(&rows)?);
                return Ok(());
            }
            println!(
                "{:<22} {:<10} {:<13} {:<7} {:<8} {:<8} ERROR",
                "TIME", "EVENT", "OUTCOME", "STATUS", "ATTEMPT", "LATENCY"
            );
            for d in rows {
                println!(
                    "{:<22} {:<10} {:<13} {:<7} {:<8} {:<8} {}",
                    format_datetime(d.at),
                    d.seq,
                    d.outcome.as_str(),
                    d.status.map_or_else(|| "-".into(), |s| s.to_string()),
                    d.attempt,
                    format!("{}ms", d.latency_ms),
                    d.error.unwrap_or_default()
                );
            }
            Ok(())
        }
        StreamCommand::Jwks(t) => {
            let jwks = core.jwks(&t.tenant).await?;
            println!("{}", if t.json { serde_json::to_string(&jwks)? } else { serde_json::to_string_pretty(&jwks)? });
            Ok(())
        }
    }
}
