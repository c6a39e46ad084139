//! SMB identification (445): SMB1, SMB2 dialect and signing, guest sessions, and what NTLM says
//! about the host.
//!
//! Two connections, sharing the probe's deadline and byte budget:
//!
//! 1. An SMB1 NEGOTIATE offering only `NT LM 0.12`. A server that picks it speaks SMB1:
//!    `smb1-enabled`. Windows without SMB1 drops the connection; Samba answers "no dialect" (0xFFFF).
//!    When it picks SMB1, one SESSION_SETUP_ANDX on the same connection: a null session (empty
//!    account and passwords), or the NTLMSSP NEGOTIATE leg when the answer asked for extended
//!    security. Its answer carries NativeOS and NativeLanMan (`Samba 4.17.12-Debian`: product and
//!    version; a Windows string is a detail only). The setup is not completed further.
//! 2. An SMB2 NEGOTIATE offering 2.0.2 to 3.1.1: the highest common dialect, and SecurityMode. When
//!    signing is not required: `smb-signing-not-required` (relaying NTLM to this host works).
//!    On the same connection two NTLMSSP session setups, each a NEGOTIATE/CHALLENGE/AUTHENTICATE:
//!    - an unknown user (`wijkagent`, a response matching no password): a session flagged IS_GUEST
//!      (Samba `map to guest = bad user`, Windows with the Guest account on) is `smb-guest-access`;
//!    - anonymous (empty user and responses): the result is a detail only. Windows and Samba accept
//!      such null sessions by default and restrict them later (shares, pipes), so a null session alone
//!      is no finding; a guest session for an unknown user is real access to guest shares.
//!
//!    The CHALLENGE gives NetBIOS and DNS names of host and domain, and the product version: Windows
//!    sends its major.minor.build, Samba always 6.1 build 0, which tells the two apart.
//!
//! The sessions are never used: no tree connect, no file, no pipe.

#[path = "smb_ntlm.rs"]
pub(crate) mod ntlm;
#[path = "smb_packets.rs"]
pub(crate) mod packets;

use tokio::time::Instant;

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};
use packets::{SessionSetup, STATUS_MORE_PROCESSING_REQUIRED, STATUS_PENDING, STATUS_SUCCESS};

/// The unknown user of the guest attempt.
const GUEST_PROBE_USER: &str = "wijkagent";
/// Interim (STATUS_PENDING) answers skipped at most.
const MAX_INTERIM: usize = 3;

/// Identifies SMB on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "smb");
    let started = Instant::now();
    // SMB1 gets half the deadline: a server that ignores it silently still gets its SMB2 question.
    let smb1_limits = Limits { deadline: limits.deadline / 2, ..*limits };
    let used = match smb1(target, &smb1_limits, &mut info).await {
        Ok(used) => used,
        Err(e @ ProbeError::Refused) => {
            info.note = Some(e.note());
            return info;
        }
        Err(e) => {
            info.detail("smb1", &format!("geen antwoord ({})", e.note()));
            0
        }
    };
    let left = Limits {
        deadline: limits.deadline.saturating_sub(started.elapsed()),
        max_bytes: limits.max_bytes.saturating_sub(used),
        ..*limits
    };
    if left.deadline.is_zero() || left.max_bytes == 0 {
        info.note = Some(ProbeError::Timeout.note());
        return info;
    }
    if let Err(e) = smb2(target, &left, &mut info).await {
        info.note.get_or_insert(e.note());
    }
    info
}

/// Reads one framed SMB message (skipping keep-alives), at most `cap` bytes.
async fn read_message(s: &mut Session, cap: usize) -> Result<Vec<u8>, ProbeError> {
    for _ in 0..4 {
        let header = s.read_exact(4).await?;
        match packets::frame_len(&header).map_err(|e| ProbeError::Protocol(e.into()))? {
            None => continue,
            Some(0) => return Err(ProbeError::Protocol("empty SMB message".into())),
            Some(len) if len > cap => return Err(ProbeError::Protocol(format!("SMB message of {len} bytes"))),
            Some(len) => return s.read_exact(len).await,
        }
    }
    Err(ProbeError::Protocol("only keep-alives".into()))
}

/// The SMB1 connection; returns the bytes it read.
async fn smb1(target: &Target, limits: &Limits, info: &mut ServiceInfo) -> Result<usize, ProbeError> {
    let mut s = Session::connect(target, limits).await?;
    s.write_all(&packets::smb1_negotiate()).await?;
    let answer = match read_message(&mut s, limits.max_bytes).await {
        Ok(m) => m,
        Err(ProbeError::Closed | ProbeError::Reset) => {
            info.detail("smb1", "uitgeschakeld (verbinding verbroken na SMB1-NEGOTIATE)");
            return Ok(s.bytes_read());
        }
        Err(e) => return Err(e),
    };
    match packets::parse_smb1_negotiate(&answer) {
        Ok(n) if n.status == STATUS_SUCCESS && n.dialect_index == 0 => {
            info.service = Some("smb".into());
            info.detail("smb1", "ingeschakeld (NT LM 0.12)");
            if let Some(mode) = n.security_mode {
                let signing = match (mode & 0x04 != 0, mode & 0x08 != 0) {
                    (_, true) => "vereist",
                    (true, false) => "ingeschakeld, niet vereist",
                    (false, false) => "uitgeschakeld",
                };
                info.detail("smb1-signing", signing);
            }
            info.observe(
                "smb1-enabled",
                "de server kiest het SMB1-dialect 'NT LM 0.12' in een SMB1-NEGOTIATE",
                "the server chooses the SMB1 dialect 'NT LM 0.12' in an SMB1 NEGOTIATE",
            );
            // The native strings are a bonus: whatever stops the session setup ends only it.
            if let Ok(setup) = smb1_session_setup(&mut s, &n, limits.max_bytes).await {
                describe_native(info, &setup);
            }
        }
        Ok(n) => {
            info.service = Some("smb".into());
            info.detail("smb1", &format!("uitgeschakeld (geen dialect gekozen, index {:#06x})", n.dialect_index));
        }
        Err(e) => info.detail("smb1", &format!("geen SMB1-antwoord ({e})")),
    }
    Ok(s.bytes_read())
}

/// The SESSION_SETUP_ANDX after an accepted SMB1 NEGOTIATE `n`, of the kind `n` asks for.
async fn smb1_session_setup(
    s: &mut Session,
    n: &packets::Smb1Negotiate,
    cap: usize,
) -> Result<packets::Smb1SessionSetup, ProbeError> {
    let blob =
        (n.flags2 & packets::FLAGS2_EXTENDED_SECURITY != 0).then(|| ntlm::spnego_init(&ntlm::negotiate_message()));
    s.write_all(&packets::smb1_session_setup(blob.as_deref())).await?;
    let answer = read_message(s, cap).await?;
    packets::parse_smb1_session_setup(&answer).map_err(|e| ProbeError::Protocol(e.into()))
}

/// Fills `info` from the native strings of an SMB1 session setup answer.
fn describe_native(info: &mut ServiceInfo, setup: &packets::Smb1SessionSetup) {
    for (key, text) in [("native-os", &setup.native_os), ("native-lanman", &setup.native_lanman)] {
        if !text.trim().is_empty() {
            info.detail(key, text);
        }
    }
    if let Some(version) =
        packets::samba_version(&setup.native_lanman).or_else(|| packets::samba_version(&setup.native_os))
    {
        info.product = Some("Samba".into());
        info.version = Some(version);
    }
}

/// The SMB2 connection: negotiate, then the guest and anonymous session setups.
async fn smb2(target: &Target, limits: &Limits, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    let cap = limits.max_bytes;
    let mut s = Session::connect(target, limits).await?;
    s.write_all(&packets::smb2_negotiate()).await?;
    let answer = read_message(&mut s, cap).await?;
    let header = packets::parse_smb2_header(&answer).map_err(|e| ProbeError::Protocol(e.into()))?;
    if header.status != STATUS_SUCCESS {
        return Err(ProbeError::Protocol(format!("SMB2 NEGOTIATE status {:#010x}", header.status)));
    }
    let neg = packets::parse_smb2_negotiate(&answer).map_err(|e| ProbeError::Protocol(e.into()))?;
    info.service = Some("smb".into());
    let dialect = packets::dialect_name(neg.dialect);
    info.detail("smb2-dialect", &dialect);
    if neg.security_mode & packets::SIGNING_REQUIRED != 0 {
        info.detail("smb2-signing", "vereist");
    } else {
        let enabled = neg.security_mode & packets::SIGNING_ENABLED != 0;
        info.detail("smb2-signing", if enabled { "ingeschakeld, niet vereist" } else { "uitgeschakeld" });
        let mode = neg.security_mode;
        info.observe(
            "smb-signing-not-required",
            format!("SMB2-NEGOTIATE (dialect {dialect}): SecurityMode {mode:#06x}, ondertekening niet vereist"),
            format!("SMB2 NEGOTIATE (dialect {dialect}): SecurityMode {mode:#06x}, signing not required"),
        );
    }

    let charge = if neg.dialect >= 0x0210 { 1 } else { 0 };
    let mut conv = Conversation { s: &mut s, cap, charge, next_id: 1 };
    let guest = conv.session(Some(GUEST_PROBE_USER)).await?;
    if let Some(challenge) = &guest.challenge {
        describe_challenge(info, challenge);
    }
    match (guest.status, guest.flags) {
        (STATUS_SUCCESS, f) if f & packets::SESSION_IS_GUEST != 0 => {
            info.detail("smb-guest", "gastsessie voor een onbekende gebruiker");
            info.observe(
                "smb-guest-access",
                format!(
                    "SESSION_SETUP als onbekende gebruiker '{GUEST_PROBE_USER}' zonder geldig wachtwoord geeft een \
                     gastsessie (SessionFlags {f:#06x}, IS_GUEST)"
                ),
                format!(
                    "SESSION_SETUP as unknown user '{GUEST_PROBE_USER}' without a valid password gives a guest \
                     session (SessionFlags {f:#06x}, IS_GUEST)"
                ),
            );
        }
        (STATUS_SUCCESS, f) => {
            info.detail("smb-guest", "onbekende gebruiker aanvaard");
            info.observe(
                "smb-guest-access",
                format!(
                    "SESSION_SETUP als onbekende gebruiker '{GUEST_PROBE_USER}' zonder geldig wachtwoord wordt aanvaard \
                     (SessionFlags {f:#06x})"
                ),
                format!(
                    "SESSION_SETUP as unknown user '{GUEST_PROBE_USER}' without a valid password is accepted \
                     (SessionFlags {f:#06x})"
                ),
            );
        }
        (status, _) => info.detail("smb-guest", &format!("geweigerd ({})", status_name(status))),
    }
    let anonymous = conv.session(None).await?;
    let anonymous = match (anonymous.status, anonymous.flags) {
        (STATUS_SUCCESS, f) if f & packets::SESSION_IS_GUEST != 0 => "aanvaard als gastsessie (IS_GUEST)".to_string(),
        (STATUS_SUCCESS, f) if f & packets::SESSION_IS_NULL != 0 => {
            "null-sessie aanvaard (IS_NULL; toegang tot shares niet getest)".to_string()
        }
        (STATUS_SUCCESS, f) => format!("aanvaard (SessionFlags {f:#06x})"),
        (status, _) => format!("geweigerd ({})", status_name(status)),
    };
    info.detail("smb-anonymous", &anonymous);
    Ok(())
}

/// Fills `info` from the NTLM CHALLENGE.
fn describe_challenge(info: &mut ServiceInfo, c: &ntlm::Challenge) {
    for (id, key) in [(1, "netbios-name"), (2, "netbios-domain"), (3, "dns-name"), (4, "dns-domain"), (5, "dns-forest")]
    {
        if let Some(name) = c.name(id).filter(|n| !n.is_empty()) {
            info.detail(key, name);
        }
    }
    if c.is_samba() {
        info.product = Some("Samba".into());
    } else if let Some((major, minor, build)) = c.version {
        info.product = Some("Windows".into());
        info.version = Some(format!("{major}.{minor}.{build}"));
        info.detail("os-version", &format!("Windows {major}.{minor} build {build}"));
    }
}

/// A readable name for the NT status codes session setups end with.
fn status_name(status: u32) -> String {
    match status {
        0xc000_006d => "STATUS_LOGON_FAILURE".into(),
        0xc000_0022 => "STATUS_ACCESS_DENIED".into(),
        0xc000_0072 => "STATUS_ACCOUNT_DISABLED".into(),
        0xc000_015b => "STATUS_LOGON_TYPE_NOT_GRANTED".into(),
        0xc000_00bb => "STATUS_NOT_SUPPORTED".into(),
        0xc000_000d => "STATUS_INVALID_PARAMETER".into(),
        0xc000_0203 => "STATUS_USER_SESSION_DELETED".into(),
        other => format!("{other:#010x}"),
    }
}

/// How one session setup ended.
#[derive(Debug)]
struct Attempt {
    /// The server's CHALLENGE, when it got that far.
    challenge: Option<ntlm::Challenge>,
    /// The final NT status.
    status: u32,
    /// SessionFlags of a successful setup.
    flags: u16,
}

/// The session setups of one SMB2 connection.
#[derive(Debug)]
struct Conversation<'a> {
    s: &'a mut Session,
    cap: usize,
    charge: u16,
    next_id: u64,
}

impl Conversation<'_> {
    /// Sends one SESSION_SETUP and reads its (final) answer.
    async fn exchange(&mut self, session_id: u64, blob: &[u8]) -> Result<Vec<u8>, ProbeError> {
        let id = self.next_id;
        self.next_id += 1;
        self.s.write_all(&packets::smb2_session_setup(id, session_id, self.charge, blob)).await?;
        for _ in 0..MAX_INTERIM {
            let answer = read_message(self.s, self.cap).await?;
            let header = packets::parse_smb2_header(&answer).map_err(|e| ProbeError::Protocol(e.into()))?;
            if header.status != STATUS_PENDING {
                return Ok(answer);
            }
        }
        Err(ProbeError::Protocol("SMB2 SESSION_SETUP stays pending".into()))
    }

    /// One NTLMSSP session setup as `user` (anonymous when `None`).
    async fn session(&mut self, user: Option<&str>) -> Result<Attempt, ProbeError> {
        let first = self.exchange(0, &ntlm::spnego_init(&ntlm::negotiate_message())).await?;
        let setup: SessionSetup<'_> =
            packets::parse_session_setup(&first).map_err(|e| ProbeError::Protocol(e.into()))?;
        if setup.header.status != STATUS_MORE_PROCESSING_REQUIRED {
            return Ok(Attempt { challenge: None, status: setup.header.status, flags: setup.session_flags });
        }
        let message =
            ntlm::find_message(setup.blob, 2).ok_or_else(|| ProbeError::Protocol("no NTLMSSP CHALLENGE".into()))?;
        let challenge = ntlm::parse_challenge(message).map_err(|e| ProbeError::Protocol(e.into()))?;
        let session_id = setup.header.session_id;
        let second = self
            .exchange(session_id, &ntlm::spnego_response(&ntlm::authenticate_message_for(user, &challenge.target_info)))
            .await?;
        let done = packets::parse_session_setup(&second).map_err(|e| ProbeError::Protocol(e.into()))?;
        Ok(Attempt { challenge: Some(challenge), status: done.header.status, flags: done.session_flags })
    }
}

#[cfg(test)]
#[path = "smb_tests.rs"]
mod tests;
