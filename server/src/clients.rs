//! `gatehouse client …` and `gatehouse keys …` (issue 13): the operator registers the
//! applications that sign people in through Gatehouse, and rotates the signing keys (O4).
//! A confidential client's secret is printed once, here, and stored only as a digest.

use clap::Subcommand;
use gatehouse_core::mechanisms::crypto::SecretKey;
use gatehouse_core::mechanisms::oidc_clients::{self, Client, ClientSpec};
use gatehouse_core::mechanisms::signing;
use gatehouse_core::store::Store;
use gatehouse_core::values::clock::{Clock, SystemClock};
use gatehouse_core::values::oidc::Alg;

/// What every client is registered with (create and update take the same).
#[derive(clap::Args)]
pub struct ClientArgs {
    /// Shown on the consent page and in people's Applications list.
    pub name: String,
    /// Where the client may have people sent back (exact match, O1); repeat for several.
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uri: Vec<String>,
    /// A browser or native app that cannot keep a secret (it authenticates with PKCE alone).
    #[arg(long)]
    pub public: bool,
    /// One of the team's own applications: no consent page.
    #[arg(long)]
    pub first_party: bool,
    /// Back-channel logout URI (OpenID Connect Back-Channel Logout 1.0).
    #[arg(long)]
    pub logout_uri: Option<String>,
    /// Where RP-initiated logout may send people back to (exact match); repeat for several.
    #[arg(long = "post-logout-uri")]
    pub post_logout_uri: Vec<String>,
    /// How its tokens are signed: RS256 (most libraries) or ES256.
    #[arg(long, default_value = "RS256")]
    pub alg: String,
}

impl ClientArgs {
    fn spec(&self) -> Result<ClientSpec, String> {
        Ok(ClientSpec {
            name: self.name.clone(),
            redirect_uris: self.redirect_uri.clone(),
            public: self.public,
            first_party: self.first_party,
            logout_uri: self.logout_uri.clone(),
            post_logout_uris: self.post_logout_uri.clone(),
            alg: Alg::parse(&self.alg).ok_or("--alg must be RS256 or ES256")?,
        })
    }
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register an application; prints client_id=… (and client_secret=… once).
    Create(ClientArgs),
    /// The registered applications.
    List,
    /// Change an application's settings (its id and secret stay).
    Update {
        id: String,
        #[command(flatten)]
        args: ClientArgs,
    },
    /// Remove an application with everything it was granted.
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// New signing keys; the old ones stay published until the tokens they signed expire.
    Rotate,
}

fn describe(c: &Client) -> String {
    format!(
        "{}  {}  {}{}{}  redirect: {}{}{}",
        c.id,
        c.name,
        if c.public { "public" } else { "confidential" },
        if c.first_party { ", first-party" } else { "" },
        format_args!(", {}", c.alg.as_str()),
        c.redirect_uris
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        c.logout_uri
            .as_ref()
            .map(|u| format!("  logout: {}", u.as_str()))
            .unwrap_or_default(),
        if c.post_logout_uris.is_empty() {
            String::new()
        } else {
            let uris: Vec<&str> = c.post_logout_uris.iter().map(|r| r.as_str()).collect();
            format!("  post-logout: {}", uris.join(" "))
        },
    )
}

pub async fn client_command(store: &Store, cmd: ClientCommand) -> Result<(), String> {
    let mut c = store.conn().await.map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    match cmd {
        ClientCommand::Create(args) => {
            let (client, secret) = oidc_clients::create(&mut c, &args.spec()?, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("client_id={}", client.id);
            if let Some(s) = secret {
                println!("client_secret={}", s.expose());
                eprintln!(
                    "Keep the secret now: it is stored only as a digest and never shown again."
                );
            }
        }
        ClientCommand::List => {
            for client in oidc_clients::list(&mut c)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{}", describe(&client));
            }
        }
        ClientCommand::Update { id, args } => {
            let client = oidc_clients::update(&mut c, &id, &args.spec()?)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", describe(&client));
        }
        ClientCommand::Delete { id } => {
            oidc_clients::delete(&mut c, &id)
                .await
                .map_err(|e| e.to_string())?;
            println!("client {id} deleted");
        }
    }
    Ok(())
}

pub async fn keys_command(store: &Store, key: &SecretKey, cmd: KeysCommand) -> Result<(), String> {
    let mut c = store.conn().await.map_err(|e| e.to_string())?;
    match cmd {
        KeysCommand::Rotate => {
            let kids = signing::rotate(&mut c, key, SystemClock.now())
                .await
                .map_err(|e| e.to_string())?;
            println!("new signing keys: {}", kids.join(", "));
        }
    }
    Ok(())
}
