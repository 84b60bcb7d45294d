//! The emulator's configuration: registered clients and test users, from the JSON config file.

use serde_json::Value;

/// A registered client.
#[derive(Clone, Debug)]
pub struct Client {
    /// client_id.
    pub id: String,
    /// Public JWKs.
    pub keys: Vec<Value>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
}

/// A test user the authorize endpoint logs in.
#[derive(Clone, Debug)]
pub struct User {
    /// Login hint.
    pub id: String,
    /// National id.
    pub pid: String,
    /// HPR number.
    pub hpr: Option<String>,
    /// Name.
    pub name: String,
    /// `practitioner` or `citizen`.
    pub citizen: bool,
    /// Ids of the users this citizen may act for (a parent for a child): `represents`.
    pub represents: Vec<String>,
}

/// Emulator configuration (from the JSON config file).
#[derive(Clone, Debug)]
pub struct Config {
    /// Registered clients.
    pub clients: Vec<Client>,
    /// Test users.
    pub users: Vec<User>,
    /// Seed of the synthetic world.
    pub seed: u64,
    /// Generated patients beyond the config's citizens.
    pub patients: usize,
    /// Documents of the last generated patient (benchmarks); 0 for the usual mix.
    pub big: usize,
    /// Fault applied to every request.
    pub fault: Option<String>,
    /// Seconds between nonce rotations.
    pub nonce_secs: u64,
    /// Access-token lifetime, seconds.
    pub token_secs: u64,
    /// Whether the document list and source demand a DPoP nonce. PJD does not: NHN's clients
    /// send none to it (NorskHelsenett/Pasientens-journaldokumenter, ApiCaller.cs builds the
    /// proof without one). Off by default; config `"resource_nonce": true`, or the `nonce`
    /// fault, turns it on.
    pub resource_nonce: bool,
}

impl Config {
    /// Reads the config JSON: `{ clients: [{ client_id, jwks: { keys }, scopes }], users: [...] }`.
    pub fn from_json(v: &Value) -> Result<Config, String> {
        let clients = v["clients"]
            .as_array()
            .ok_or("config: clients must be an array")?
            .iter()
            .map(|c| {
                Ok(Client {
                    id: c["client_id"]
                        .as_str()
                        .ok_or("config: client_id")?
                        .to_string(),
                    keys: c["jwks"]["keys"]
                        .as_array()
                        .ok_or("config: jwks.keys")?
                        .clone(),
                    scopes: c["scopes"]
                        .as_array()
                        .map(|s| {
                            s.iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        let users = v["users"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|u| User {
                        id: u["id"].as_str().unwrap_or_default().to_string(),
                        pid: u["pid"].as_str().unwrap_or_default().to_string(),
                        hpr: u["hpr"].as_str().map(String::from),
                        name: u["name"].as_str().unwrap_or_default().to_string(),
                        citizen: u["kind"].as_str() == Some("citizen"),
                        represents: u["represents"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Config {
            clients,
            users,
            seed: 1,
            patients: 5,
            big: 0,
            fault: None,
            nonce_secs: 60,
            token_secs: 300,
            resource_nonce: v["resource_nonce"].as_bool().unwrap_or(false),
        })
    }
}
