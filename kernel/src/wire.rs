//! The Jupyter wire protocol (messaging spec 5.3): connection files, HMAC-SHA256 signing and
//! constant-time verification, and the multipart framing `ids.. <IDS|MSG> sig header parent
//! metadata content buffers..`.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

pub const DELIMITER: &[u8] = b"<IDS|MSG>";
pub const PROTOCOL_VERSION: &str = "5.3";

/// The connection file Jupyter writes for a kernel.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    pub transport: String,
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default)]
    pub key: String,
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
}

fn default_scheme() -> String {
    "hmac-sha256".to_string()
}

impl ConnectionInfo {
    pub fn read(path: &std::path::Path) -> Result<ConnectionInfo> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let info: ConnectionInfo = serde_json::from_str(&text).context("parsing the connection file")?;
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            bail!("unsupported signature scheme {}", info.signature_scheme);
        }
        Ok(info)
    }

    /// `tcp://127.0.0.1:5555` for one of the ports.
    pub fn endpoint(&self, port: u16) -> String {
        format!("{}://{}:{}", self.transport, self.ip, port)
    }
}

/// Signs and verifies messages with the connection key (no key: no signatures, per spec).
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: &str) -> Signer {
        Signer { key: key.as_bytes().to_vec() }
    }

    fn mac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// Hex HMAC of header, parent header, metadata and content.
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        if self.key.is_empty() {
            return String::new();
        }
        let bytes = self.mac(parts).finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks a hex signature in constant time.
    pub fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> bool {
        if self.key.is_empty() {
            return true;
        }
        let Some(raw) = decode_hex(signature) else { return false };
        self.mac(parts).verify_slice(&raw).is_ok()
    }
}

fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// One Jupyter message.
#[derive(Debug, Clone)]
pub struct Message {
    pub identities: Vec<Vec<u8>>,
    pub header: Value,
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Vec<u8>>,
}

impl Message {
    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }

    /// Decodes and verifies the frames of one message.
    pub fn decode(frames: Vec<Vec<u8>>, signer: &Signer) -> Result<Message> {
        let split = frames
            .iter()
            .position(|f| f.as_slice() == DELIMITER)
            .ok_or_else(|| anyhow!("no <IDS|MSG> delimiter"))?;
        let (identities, rest) = frames.split_at(split);
        let rest = &rest[1..];
        if rest.len() < 5 {
            bail!("expected signature and four message parts after the delimiter, got {} frames", rest.len());
        }
        let parts: Vec<&[u8]> = rest[1..5].iter().map(Vec::as_slice).collect();
        if !signer.verify(&rest[0], &parts) {
            bail!("invalid message signature");
        }
        let parse = |bytes: &[u8], what: &str| -> Result<Value> {
            serde_json::from_slice(bytes).with_context(|| format!("message {what} is not JSON"))
        };
        let header = parse(parts[0], "header")?;
        if !header.is_object() || header["msg_type"].as_str().is_none() {
            bail!("message header without msg_type");
        }
        Ok(Message {
            identities: identities.to_vec(),
            header,
            parent_header: parse(parts[1], "parent header")?,
            metadata: parse(parts[2], "metadata")?,
            content: parse(parts[3], "content")?,
            buffers: rest[5..].to_vec(),
        })
    }

    /// Encodes and signs the message into frames.
    pub fn encode(&self, signer: &Signer) -> Vec<Vec<u8>> {
        let header = serde_json::to_vec(&self.header).expect("JSON");
        let parent = serde_json::to_vec(&self.parent_header).expect("JSON");
        let metadata = serde_json::to_vec(&self.metadata).expect("JSON");
        let content = serde_json::to_vec(&self.content).expect("JSON");
        let signature = signer.sign(&[&header, &parent, &metadata, &content]);
        let mut frames = self.identities.clone();
        frames.push(DELIMITER.to_vec());
        frames.push(signature.into_bytes());
        frames.extend([header, parent, metadata, content]);
        frames.extend(self.buffers.iter().cloned());
        frames
    }

    /// A new message of `msg_type` in reply to (or caused by) `parent`.
    pub fn child(parent: &Message, msg_type: &str, content: Value) -> Message {
        Message {
            identities: parent.identities.clone(),
            header: new_header(
                msg_type,
                parent.header["session"].as_str().unwrap_or(""),
                parent.header["username"].as_str().unwrap_or("kernel"),
            ),
            parent_header: parent.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// An iopub message (no routing identities; the topic is the message type).
    pub fn broadcast(parent: &Message, msg_type: &str, content: Value) -> Message {
        let mut msg = Message::child(parent, msg_type, content);
        msg.identities = vec![format!("kernel.{msg_type}").into_bytes()];
        msg
    }
}

/// A fresh message id: 128 random bits as hex (from the OS's generator).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    bytes[..8].iter_mut().zip(nanos.to_le_bytes()).for_each(|(b, n)| *b ^= n);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// ISO 8601 UTC timestamp with microseconds.
pub fn now_iso8601() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

pub fn new_header(msg_type: &str, session: &str, username: &str) -> Value {
    json!({
        "msg_id": new_id(),
        "session": session,
        "username": username,
        "date": now_iso8601(),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(signer: &Signer) -> Vec<Vec<u8>> {
        let msg = Message {
            identities: vec![b"client-1".to_vec()],
            header: new_header("kernel_info_request", "s1", "u"),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({}),
            buffers: vec![b"raw".to_vec()],
        };
        msg.encode(signer)
    }

    #[test]
    fn signatures_match_a_known_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let signer = Signer::new("Jefe");
        assert_eq!(
            signer.sign(&[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn round_trip_keeps_identities_and_buffers() {
        let signer = Signer::new("secret");
        let decoded = Message::decode(sample(&signer), &signer).unwrap();
        assert_eq!(decoded.identities, vec![b"client-1".to_vec()]);
        assert_eq!(decoded.msg_type(), "kernel_info_request");
        assert_eq!(decoded.buffers, vec![b"raw".to_vec()]);
    }

    #[test]
    fn bad_signatures_and_malformed_frames_are_rejected() {
        let signer = Signer::new("secret");
        let mut frames = sample(&signer);
        let sig = frames.iter().position(|f| f == DELIMITER).unwrap() + 1;
        frames[sig][0] ^= 1;
        assert!(Message::decode(frames, &signer).is_err(), "tampered signature");

        let mut frames = sample(&signer);
        let content = frames.len() - 2;
        frames[content] = b"{\"x\": 1}".to_vec();
        assert!(Message::decode(frames, &signer).is_err(), "content changed after signing");

        assert!(Message::decode(sample(&Signer::new("other")), &signer).is_err(), "wrong key");
        assert!(Message::decode(vec![b"no delimiter".to_vec()], &signer).is_err());
        assert!(
            Message::decode(vec![DELIMITER.to_vec(), b"sig".to_vec()], &signer).is_err(),
            "too few frames"
        );
        let mut frames = sample(&signer);
        frames[sig] = b"zz".to_vec();
        assert!(Message::decode(frames, &signer).is_err(), "non-hex signature");
        // unsigned message to a kernel with a key
        let unsigned = sample(&Signer::new(""));
        assert!(Message::decode(unsigned, &signer).is_err());
    }

    #[test]
    fn no_key_means_no_signature() {
        let signer = Signer::new("");
        assert!(Message::decode(sample(&signer), &signer).is_ok());
    }

    #[test]
    fn dates_are_iso8601() {
        let d = now_iso8601();
        assert_eq!(d.len(), 27, "{d}");
        assert!(d.ends_with('Z') && d.as_bytes()[10] == b'T');
    }
}
