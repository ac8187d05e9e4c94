//! E-mail targets on the real binary, against SMTP sinks the tests start (Python's `aiosmtpd`
//! in the venv `scripts/bootstrap.sh` makes): every message the sink sees is saved to a folder
//! and parsed here (headers, both parts, the language per tenant, what is escaped); a sink that
//! answers 4xx first gets the same message again and keeps one; a 5xx is dropped and counted
//! on `/metrics`; a server that is down keeps the letter queued. And `check` on bad e-mail keys.

use crate::control::TempDir;
use crate::lifecycle::Running;
use crate::notify::{minutes_from_now, wait_until};
use mail_parser::MessageParser;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The sink: each DATA is saved as `NNN-CODE.eml` (the reply it got) with `NNN-CODE.json`
/// (the envelope); replies come from argv (one per DATA, then 250); logins go to `auth.jsonl`.
/// With `SINK_TLS=starttls` it requires STARTTLS before MAIL, with `implicit` it speaks TLS from
/// the first byte (certificate and key in `SINK_CERT`, `SINK_KEY`).
const SINK: &str = r#"
import asyncio, json, logging, os, socket, sys
from aiosmtpd.smtp import SMTP, AuthResult
# aiosmtpd 1.4 logs a warning about its own deprecated `login_data` at every AUTH, and a
# traceback for each handshake a client gives up (the untrusted target's, by design).
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
folder, replies = sys.argv[1], sys.argv[2:]
count = [0]
def save(name, data):
    with open(os.path.join(folder, name + ".tmp"), "wb") as f:
        f.write(data)
    os.rename(os.path.join(folder, name + ".tmp"), os.path.join(folder, name))
class Handler:
    async def handle_DATA(self, server, session, envelope):
        reply = replies.pop(0) if replies else "250 2.0.0 OK"
        count[0] += 1
        stem = "%03d-%s" % (count[0], reply[:3])
        save(stem + ".json", json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos}).encode())
        save(stem + ".eml", envelope.original_content)
        return reply
def authenticate(server, session, envelope, mechanism, data):
    line = json.dumps({"login": data.login.decode(), "password": data.password.decode()}) + "\n"
    with open(os.path.join(folder, "auth.jsonl"), "a") as f:
        f.write(line)
    return AuthResult(success=True, auth_data=data)
tls = os.environ.get("SINK_TLS")
ctx = None
if tls:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["SINK_CERT"], os.environ["SINK_KEY"])
starttls = tls == "starttls"
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(16)
loop = asyncio.new_event_loop()
factory = lambda: SMTP(Handler(), authenticator=authenticate, auth_require_tls=False, enable_SMTPUTF8=True,
                       tls_context=ctx if starttls else None, require_starttls=starttls)
loop.run_until_complete(loop.create_server(factory, sock=sock, ssl=ctx if tls == "implicit" else None))
print(sock.getsockname()[1], flush=True)
loop.run_forever()
"#;

/// A running SMTP sink; killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    folder: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DATA the sink received.
#[derive(Debug)]
struct Got {
    code: String,
    envelope: serde_json::Value,
    raw: Vec<u8>,
}

impl SmtpSink {
    /// Starts a sink answering `replies` to the first DATAs, then 250.
    fn start(dir: &TempDir, name: &str, replies: &[&str]) -> SmtpSink {
        SmtpSink::start_with(dir, name, replies, &[])
    }

    /// Starts a sink with TLS (`mode`: `starttls` or `implicit`) and the certificate `file`
    /// (`<file>.pem`, `<file>.key` in `dir`).
    fn start_tls(dir: &TempDir, name: &str, mode: &str, file: &str) -> SmtpSink {
        let (cert, key) = (dir.0.join(format!("{file}.pem")), dir.0.join(format!("{file}.key")));
        let env = [
            ("SINK_TLS", mode.to_string()),
            ("SINK_CERT", cert.display().to_string()),
            ("SINK_KEY", key.display().to_string()),
        ];
        SmtpSink::start_with(dir, name, &[], &env)
    }

    fn start_with(dir: &TempDir, name: &str, replies: &[&str], env: &[(&str, String)]) -> SmtpSink {
        let folder = dir.0.join(name);
        std::fs::create_dir_all(&folder).expect("the sink's folder");
        let mut child = Command::new(crate::status::feedcheck_python())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("-c")
            .arg(SINK)
            .arg(&folder)
            .args(replies)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        let out = child.stdout.take().expect("the sink's stdout");
        // Its first line is its port; bounded by the sink starting at all (a dead one closes it).
        BufReader::new(out).read_line(&mut line).expect("the sink's port");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the sink said {line:?}, not a port"));
        SmtpSink { child, port, folder }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every DATA so far, in order.
    fn received(&self) -> Vec<Got> {
        let mut names: Vec<String> = std::fs::read_dir(&self.folder)
            .expect("the sink's folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| {
                let stem = n.trim_end_matches(".eml");
                let json = std::fs::read(self.folder.join(format!("{stem}.json"))).expect("the envelope");
                Got {
                    code: stem[4..].to_string(),
                    envelope: serde_json::from_slice(&json).expect("JSON"),
                    raw: std::fs::read(self.folder.join(n)).expect("the message"),
                }
            })
            .collect()
    }

    fn accepted(&self) -> Vec<Got> {
        self.received().into_iter().filter(|g| g.code == "250").collect()
    }

    fn logins(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.folder.join("auth.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect()
    }

    /// Waits (bounded) until `f` holds of what arrived.
    fn wait(&self, what: &str, f: impl Fn(&[Got]) -> bool) {
        wait_until(what, || self.received(), |r| f(r));
    }
}

/// A parsed message's fields the tests look at.
#[derive(Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    envelope_to: Vec<String>,
    subject: String,
    message_id: String,
    language: String,
    unsubscribe: Option<String>,
    unsubscribe_post: Option<String>,
    text: String,
    html: String,
    alternative: bool,
}

fn parse(got: &Got) -> Mail {
    let m = MessageParser::default().parse(&got.raw).expect("a message that parses");
    let addresses = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| a.iter().filter_map(|a| a.address().map(str::to_string)).collect()).unwrap_or_default()
    };
    let raw_header = |name: &str| m.header_raw(name).map(|v| v.trim().to_string());
    let root = String::from_utf8_lossy(&got.raw).to_ascii_lowercase();
    Mail {
        from: addresses(m.from()).join(","),
        to: addresses(m.to()),
        envelope_to: got.envelope["to"]
            .as_array()
            .expect("to")
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        subject: m.subject().unwrap_or_default().to_string(),
        message_id: m.message_id().unwrap_or_default().to_string(),
        language: raw_header("Content-Language").unwrap_or_default(),
        unsubscribe: raw_header("List-Unsubscribe"),
        unsubscribe_post: raw_header("List-Unsubscribe-Post"),
        text: if m.text_body_count() == 1 { m.body_text(0).unwrap_or_default().into_owned() } else { String::new() },
        html: if m.html_body_count() == 1 { m.body_html(0).unwrap_or_default().into_owned() } else { String::new() },
        alternative: root.contains("content-type: multipart/alternative"),
    }
}

/// Two tenants (a in German, b in English, b with its own mail subject template), a window of
/// both in force now, and `targets`.
fn write(dir: &TempDir, targets: &str) -> String {
    let state = dir.0.join("state").display().to_string();
    let b_pages = dir.0.join("b-pages");
    std::fs::create_dir_all(&b_pages).expect("b's pages folder");
    std::fs::write(b_pages.join("mail-subject.txt"), "[{{ who }}] {{ headline }} ({{ lang }})").expect("b's template");
    let text = format!(
        "[defaults]\nzone = \"UTC\"\nlanguage = \"en\"\n\n[gateway]\nlisten = [\"127.0.0.1:0\"]\nadmin = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\n\n\
         [[tenants]]\nid = \"a\"\nname = \"Shop A\"\nlanguage = \"de\"\nzone = \"Europe/Berlin\"\nhosts = [\"a.test\"]\nupstreams = [\"127.0.0.1:9\"]\n\n\
         [[tenants]]\nid = \"b\"\nname = \"Shop B\"\npages = \"{}\"\nhosts = [\"b.test\"]\nupstreams = [\"127.0.0.1:9\"]\n\n\
         [[windows]]\nid = \"db\"\nscope = \"all\"\ntitle = {{ de = \"Update <3 & mehr\", en = \"Database upgrade\" }}\n\
         once = {{ start = \"{}\", end = \"{}\" }}\n\n{targets}",
        b_pages.display(),
        minutes_from_now(-1),
        minutes_from_now(60)
    );
    dir.write("hiatus.toml", &text).display().to_string()
}

/// `/metrics` of the admin listener at `admin`, as text.
fn scrape(admin: SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(admin).expect("connect to admin");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("the answer");
    text
}

/// A sample's value in `/metrics` (`name{target="id"}`), waiting (bounded) until `f` holds.
fn metric_until(admin: SocketAddr, name: &str, target: &str, f: impl Fn(f64) -> bool) -> f64 {
    let series = format!("{name}{{target=\"{target}\"}} ");
    let value =
        |text: &str| text.lines().find_map(|l| l.strip_prefix(series.as_str())).and_then(|v| v.trim().parse().ok());
    // Only the notification lines: a failure shows those, not the whole exposition.
    let look = || scrape(admin).lines().filter(|l| l.starts_with("hiatus_notify_")).collect::<Vec<_>>().join("\n");
    let text = wait_until(&series, look, |text| value(text).is_some_and(&f));
    value(&text).unwrap_or_default()
}

#[test]
fn each_tenants_subscribers_get_their_own_mail_in_their_language() {
    let dir = TempDir::new("mail-lists");
    let sink = SmtpSink::start(&dir, "sink", &[]);
    let targets = format!(
        "[[notify]]\nid = \"mail\"\ntype = \"email\"\nurl = \"{}\"\ntls = \"none\"\nuser = \"hiatus\"\npassword = \"pw-9\"\n\
         from = \"Status <status@example.net>\"\nto = [\"ops@example.net\"]\nevents = [\"window.started\"]\n\
         unsubscribe = \"https://example.net/leave?list={{tenant}}\"\n\
         subscribers = {{ a = [\"anna@example.net\", \"arne@example.net\"], b = [\"bob@example.net\"] }}\n\n",
        sink.url()
    );
    let config = write(&dir, &targets);
    let gw = Running::start(&["run", "--config", &config]);
    let (_, admin) = gw.started();
    sink.wait("three mails: ops, a's and b's subscribers", |r| r.len() >= 3);
    let mails: Vec<Mail> = sink.accepted().iter().map(parse).collect();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let of = |to: &str| {
        mails.iter().find(|m| m.envelope_to.iter().any(|e| e == to)).unwrap_or_else(|| panic!("{to}: {mails:#?}"))
    };

    let ops = of("ops@example.net");
    assert_eq!(ops.envelope_to, ["ops@example.net"]);
    assert_eq!(ops.to, ["ops@example.net"], "`to` is addressed openly");
    assert_eq!(ops.from, "status@example.net");
    assert_eq!(ops.language, "en");
    assert_eq!(ops.subject, "Maintenance started: all services – Database upgrade", "a window of every tenant");
    assert!(ops.text.contains("Maintenance \"Database upgrade\" for all services has started"), "{ops:?}");
    assert_eq!(ops.unsubscribe, None, "`to` is no list");
    let id = ops.message_id.split('@').next().expect("an id").to_string();
    assert_eq!(id.len(), 32, "the event id: {}", ops.message_id);

    let a = of("anna@example.net");
    assert_eq!(a.envelope_to, ["anna@example.net", "arne@example.net"], "one mail per list");
    assert_eq!(a.to, ["status@example.net"], "subscribers stay off the headers");
    assert_eq!(a.language, "de");
    assert_eq!(a.message_id, format!("{id}.a@example.net"), "stable, from the event id and the tenant");
    assert!(a.subject.starts_with("Wartung begonnen: Shop A"), "{a:?}");
    assert!(a.alternative, "multipart/alternative");
    assert!(
        a.text.contains("Update <3 & mehr") && a.text.contains("Beginn:") && a.text.contains("Uhr CE"),
        "{}",
        a.text
    );
    assert!(a.html.contains("Update &lt;3 &amp; mehr") && !a.html.contains("<3"), "escaped in HTML: {}", a.html);
    assert!(!a.text.contains("Shop B") && !a.html.contains("Shop B"), "nothing of tenant b in a's mail");
    assert_eq!(a.unsubscribe.as_deref(), Some("<https://example.net/leave?list=a>"));
    assert_eq!(a.unsubscribe_post.as_deref(), Some("List-Unsubscribe=One-Click"));
    // minijinja escapes '/' too; a browser reads the entity back.
    let href = a.html.replace("&#x2f;", "/");
    assert!(href.contains("href=\"https://example.net/leave?list=a\""), "the footer links it: {}", a.html);

    let b = of("bob@example.net");
    assert_eq!(b.envelope_to, ["bob@example.net"]);
    assert_eq!(b.language, "en");
    assert_eq!(b.subject, "[Shop B] Maintenance started (en)", "b's own template");
    assert!(b.text.contains("Database upgrade") && !b.text.contains("Shop A"), "{}", b.text);
    assert_eq!(b.unsubscribe.as_deref(), Some("<https://example.net/leave?list=b>"));

    let logins = sink.logins();
    assert!(
        !logins.is_empty() && logins.iter().all(|l| l["login"] == "hiatus" && l["password"] == "pw-9"),
        "{logins:?}"
    );
    let admin = admin.expect("the admin address");
    assert_eq!(metric_until(admin, "hiatus_notify_sent_total", "mail", |v| v >= 3.0), 3.0);
    assert_eq!(metric_until(admin, "hiatus_notify_queued", "mail", |v| v == 0.0), 0.0);
    drop(gw);
}

#[test]
fn a_4xx_is_retried_into_one_mail_and_a_5xx_is_dropped_and_counted() {
    let dir = TempDir::new("mail-replies");
    let greylist = SmtpSink::start(&dir, "greylist", &["451 4.7.1 Greylisted, try again"]);
    let refuser = SmtpSink::start(&dir, "refuser", &["554 5.7.1 Not wanted"]);
    // A port nothing listens on (the listener is gone when this line ends): connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let target = |id: &str, url: &str| {
        format!(
            "[[notify]]\nid = \"{id}\"\ntype = \"email\"\nurl = \"{url}\"\ntls = \"none\"\nfrom = \"status@example.net\"\n\
             to = [\"ops@example.net\"]\nevents = [\"window.started\"]\ntimeout = \"2s\"\nretry_min = \"200ms\"\nretry_max = \"400ms\"\n\n"
        )
    };
    let targets = [
        target("greylist", &greylist.url()),
        target("refuser", &refuser.url()),
        target("down", &format!("smtp://127.0.0.1:{}", closed.port())),
    ]
    .concat();
    let config = write(&dir, &targets);
    let gw = Running::start(&["run", "--config", &config]);
    let (_, admin) = gw.started();
    let admin = admin.expect("the admin address");

    greylist.wait("the greylisted message, then the same accepted", |r| r.iter().any(|g| g.code == "250"));
    let attempts: Vec<Mail> = greylist.received().iter().map(parse).collect();
    let codes: Vec<String> = greylist.received().iter().map(|g| g.code.clone()).collect();
    assert_eq!(codes, ["451", "250"], "retried once after the 4xx: {attempts:#?}");
    assert_eq!(attempts[0].message_id, attempts[1].message_id, "the same Message-ID on the retry");
    assert_eq!(greylist.received()[0].raw, greylist.received()[1].raw, "the same bytes on the retry");
    assert_eq!(metric_until(admin, "hiatus_notify_sent_total", "greylist", |v| v == 1.0), 1.0);
    assert_eq!(metric_until(admin, "hiatus_notify_failed_total", "greylist", |v| v == 1.0), 1.0);

    assert_eq!(metric_until(admin, "hiatus_notify_dropped_total", "refuser", |v| v == 1.0), 1.0);
    assert_eq!(metric_until(admin, "hiatus_notify_failed_total", "refuser", |v| v == 1.0), 1.0);
    assert_eq!(metric_until(admin, "hiatus_notify_sent_total", "refuser", |v| v == 0.0), 0.0);
    let codes: Vec<String> = refuser.received().iter().map(|g| g.code.clone()).collect();
    assert_eq!(codes, ["554"], "a 5xx is not tried again");

    // A server that is down: the letter waits, its attempts count, its age grows.
    assert!(metric_until(admin, "hiatus_notify_failed_total", "down", |v| v >= 2.0) >= 2.0);
    assert_eq!(metric_until(admin, "hiatus_notify_queued", "down", |v| v == 1.0), 1.0);
    assert!(metric_until(admin, "hiatus_notify_oldest_queued_age_seconds", "down", |v| v >= 1.0) >= 1.0);
    drop(gw);
}

/// A test CA (`ca.pem`) and a leaf for 127.0.0.1 it signs (`server.pem`, `server.key`) in `dir`.
fn pki(dir: &TempDir) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "hiatus mail test CA");
    let key = rcgen::KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    dir.write("ca.pem", &cert.pem());
    let ca = rcgen::Issuer::new(params, key);
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("leaf params");
    let key = rcgen::KeyPair::generate().expect("leaf key");
    let cert = leaf.signed_by(&key, &ca).expect("leaf certificate");
    dir.write("server.pem", &cert.pem());
    dir.write("server.key", &key.serialize_pem());
}

#[test]
fn mails_go_over_starttls_and_implicit_tls_to_a_server_of_the_configured_ca_only() {
    let dir = TempDir::new("mail-tls");
    pki(&dir);
    let starttls = SmtpSink::start_tls(&dir, "starttls", "starttls", "server");
    let implicit = SmtpSink::start_tls(&dir, "implicit", "implicit", "server");
    let ca = dir.0.join("ca.pem").display().to_string();
    let target = |id: &str, url: String, extra: &str| {
        format!(
            "[[notify]]\nid = \"{id}\"\ntype = \"email\"\nurl = \"{url}\"\nfrom = \"status@example.net\"\nto = [\"{id}@example.net\"]\n\
             events = [\"window.started\"]\nretry_min = \"200ms\"\nretry_max = \"400ms\"\n{extra}\n\n"
        )
    };
    let targets = [
        target(
            "starttls",
            format!("smtp://127.0.0.1:{}", starttls.port),
            &format!("ca = {ca:?}\nuser = \"u\"\npassword = \"over-tls\""),
        ),
        target("implicit", format!("smtps://127.0.0.1:{}", implicit.port), &format!("ca = {ca:?}")),
        // The same STARTTLS server, without its CA: the certificate is not trusted, nothing is sent.
        target("untrusted", format!("smtp://127.0.0.1:{}", starttls.port), ""),
    ]
    .concat();
    let config = write(&dir, &targets);
    let gw = Running::start(&["run", "--config", &config]);
    let (_, admin) = gw.started();
    let admin = admin.expect("the admin address");
    starttls.wait("the mail over STARTTLS", |r| !r.is_empty());
    implicit.wait("the mail over implicit TLS", |r| !r.is_empty());
    assert_eq!(parse(&starttls.accepted()[0]).envelope_to, ["starttls@example.net"]);
    assert_eq!(parse(&implicit.accepted()[0]).envelope_to, ["implicit@example.net"]);
    assert_eq!(starttls.logins(), [serde_json::json!({"login": "u", "password": "over-tls"})], "AUTH after STARTTLS");
    assert!(metric_until(admin, "hiatus_notify_failed_total", "untrusted", |v| v >= 1.0) >= 1.0);
    assert_eq!(metric_until(admin, "hiatus_notify_sent_total", "untrusted", |v| v == 0.0), 0.0);
    assert_eq!(starttls.received().len(), 1, "the untrusted target sent nothing");
    drop(gw);
}

#[test]
fn check_names_each_bad_mail_key() {
    let dir = TempDir::new("mail-check");
    let targets = "[[notify]]\nid = \"m1\"\ntype = \"email\"\nurl = \"smtp://mail.example.net:99999\"\nto = [\"ops@\"]\n\n\
                   [[notify]]\nid = \"m2\"\ntype = \"email\"\nurl = \"smtp://relay.example.net\"\ntls = \"none\"\nfrom = \"status@example.net\"\n\
                   subscribers = { zz = [\"x@example.net\"] }\n\n\
                   [[notify]]\nid = \"m3\"\ntype = \"webhook\"\nurl = \"https://hooks.example/x\"\nfrom = \"a@b.c\"\n\n\
                   [[notify]]\nid = \"m4\"\ntype = \"email\"\nurl = \"smtps://mail.example.net\"\nfrom = \"a@b.c\"\nto = [\"x@b.c\"]\nca = \"hiatus.toml\"\n";
    let config = write(&dir, targets);
    let out = crate::support::hiatus(&["check", "--config", &config]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for expected in [
        "notify[0].url: \"smtp://mail.example.net:99999\": the port must be 1 to 65535",
        "notify[0].from: missing",
        "notify[0].to[0]: \"ops@\" is not an e-mail address",
        "notify[1].tls: \"none\" sends the password and the mails in clear",
        "notify[1].subscribers.zz: no tenant has the id \"zz\"",
        "notify[2].from: only e-mail targets",
        "hiatus.toml: no PEM certificates in it",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// Subscribers of a tenant that the target's `tenants` leaves out would never get a letter:
/// `check` warns, naming the key, and the configuration still loads.
#[test]
fn check_warns_of_subscribers_a_target_never_writes_to() {
    let dir = TempDir::new("mail-subscribers");
    let targets = "[[notify]]\nid = \"m\"\ntype = \"email\"\nurl = \"smtp://127.0.0.1:2525\"\ntls = \"none\"\n\
                   from = \"status@example.net\"\ntenants = [\"a\"]\n\
                   subscribers = { a = [\"anna@example.net\"], b = [\"bob@example.net\"] }\n";
    let config = write(&dir, targets);
    let out = crate::support::hiatus(&["check", "--config", &config]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error: {text}");
    assert!(text.contains("notify[0].subscribers.b: \"b\" is not in this target's `tenants`"), "{text}");
    assert!(!text.contains("subscribers.a:"), "{text}");
}
