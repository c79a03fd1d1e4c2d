//! The xenstore wire protocol (io/xs_wire.h).
//!
//! Every message is a 16-byte header (`type`, `req_id`, `tx_id`, `len`, all
//! little-endian `u32`) followed by `len` bytes of payload, at most 4096.
//! Payloads are NUL-separated strings, except a written value and a read
//! reply, which are raw bytes. Replies echo the request's `req_id`; watch
//! events arrive unsolicited with type `WATCH_EVENT` and payload
//! `path\0token\0`; failures come back as type `ERROR` with an errno name.

use alloc::string::String;
use alloc::vec::Vec;

/// Size of `struct xsd_sockmsg`.
pub const HEADER_LEN: usize = 16;
/// `XENSTORE_PAYLOAD_MAX`.
pub const PAYLOAD_MAX: usize = 4096;
/// `XENSTORE_ABS_PATH_MAX`.
pub const ABS_PATH_MAX: usize = 3072;

/// `enum xsd_sockmsg_type` (the ones a guest sends or receives).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MsgType {
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,
    ResetWatches = 21,
    DirectoryPart = 22,
}

impl MsgType {
    pub fn from_u32(v: u32) -> Option<MsgType> {
        use MsgType::*;
        Some(match v {
            0 => Control,
            1 => Directory,
            2 => Read,
            3 => GetPerms,
            4 => Watch,
            5 => Unwatch,
            6 => TransactionStart,
            7 => TransactionEnd,
            8 => Introduce,
            9 => Release,
            10 => GetDomainPath,
            11 => Write,
            12 => Mkdir,
            13 => Rm,
            14 => SetPerms,
            15 => WatchEvent,
            16 => Error,
            17 => IsDomainIntroduced,
            18 => Resume,
            19 => SetTarget,
            21 => ResetWatches,
            22 => DirectoryPart,
            _ => return None,
        })
    }
}

/// `struct xsd_sockmsg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Raw type: unknown types are reported, not rejected, by the reader.
    pub kind: u32,
    pub req_id: u32,
    pub tx_id: u32,
    pub len: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.kind.to_le_bytes());
        out[4..8].copy_from_slice(&self.req_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.tx_id.to_le_bytes());
        out[12..16].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Header { kind: word(0), req_id: word(4), tx_id: word(8), len: word(12) }
    }
}

/// The errno names xenstored sends in `ERROR` replies (`xsd_errors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XsErrno {
    Einval,
    Eacces,
    Eexist,
    Eisdir,
    Enoent,
    Enomem,
    Enospc,
    Eio,
    Enotempty,
    Enosys,
    Erofs,
    Ebusy,
    Eagain,
    Eisconn,
    E2big,
    Eperm,
    /// A name this client does not know.
    Unknown,
}

const ERRNO_NAMES: [(&str, XsErrno); 16] = [
    ("EINVAL", XsErrno::Einval),
    ("EACCES", XsErrno::Eacces),
    ("EEXIST", XsErrno::Eexist),
    ("EISDIR", XsErrno::Eisdir),
    ("ENOENT", XsErrno::Enoent),
    ("ENOMEM", XsErrno::Enomem),
    ("ENOSPC", XsErrno::Enospc),
    ("EIO", XsErrno::Eio),
    ("ENOTEMPTY", XsErrno::Enotempty),
    ("ENOSYS", XsErrno::Enosys),
    ("EROFS", XsErrno::Erofs),
    ("EBUSY", XsErrno::Ebusy),
    ("EAGAIN", XsErrno::Eagain),
    ("EISCONN", XsErrno::Eisconn),
    ("E2BIG", XsErrno::E2big),
    ("EPERM", XsErrno::Eperm),
];

impl XsErrno {
    /// Parse an `ERROR` payload such as `ENOENT\0`.
    pub fn parse(payload: &[u8]) -> XsErrno {
        let name = payload.split(|&b| b == 0).next().unwrap_or(&[]);
        ERRNO_NAMES.iter().find(|(n, _)| n.as_bytes() == name).map_or(XsErrno::Unknown, |&(_, e)| e)
    }

    pub fn name(self) -> &'static str {
        ERRNO_NAMES.iter().find(|&&(_, e)| e == self).map_or("EUNKNOWN", |&(n, _)| n)
    }
}

/// Why a message could not be built or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A path or token contains NUL, or a path is too long.
    BadArgument(&'static str),
    /// The payload would exceed `PAYLOAD_MAX`.
    TooLong,
    /// The peer announced a payload longer than `PAYLOAD_MAX`.
    OversizedMessage(u32),
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::BadArgument(what) => write!(f, "bad xenstore argument: {what}"),
            WireError::TooLong => write!(f, "xenstore payload too long"),
            WireError::OversizedMessage(len) => write!(f, "xenstore message announces {len} payload bytes"),
        }
    }
}

/// A request a guest sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Read { path: &'a str },
    Write { path: &'a str, value: &'a [u8] },
    Directory { path: &'a str },
    Mkdir { path: &'a str },
    Rm { path: &'a str },
    Watch { path: &'a str, token: &'a str },
    Unwatch { path: &'a str, token: &'a str },
    TransactionStart,
    TransactionEnd { commit: bool },
    GetDomainPath { domid: u16 },
}

impl Request<'_> {
    pub fn msg_type(&self) -> MsgType {
        match self {
            Request::Read { .. } => MsgType::Read,
            Request::Write { .. } => MsgType::Write,
            Request::Directory { .. } => MsgType::Directory,
            Request::Mkdir { .. } => MsgType::Mkdir,
            Request::Rm { .. } => MsgType::Rm,
            Request::Watch { .. } => MsgType::Watch,
            Request::Unwatch { .. } => MsgType::Unwatch,
            Request::TransactionStart => MsgType::TransactionStart,
            Request::TransactionEnd { .. } => MsgType::TransactionEnd,
            Request::GetDomainPath { .. } => MsgType::GetDomainPath,
        }
    }

    /// Encode header and payload into one buffer, ready for the ring.
    pub fn encode(&self, req_id: u32, tx_id: u32) -> Result<Vec<u8>, WireError> {
        let mut payload = Vec::new();
        match *self {
            Request::Read { path } | Request::Directory { path } | Request::Mkdir { path } | Request::Rm { path } => {
                push_path(&mut payload, path)?
            }
            Request::Write { path, value } => {
                push_path(&mut payload, path)?;
                payload.extend_from_slice(value);
            }
            Request::Watch { path, token } | Request::Unwatch { path, token } => {
                push_path(&mut payload, path)?;
                push_string(&mut payload, token, "token")?;
            }
            // An empty string: xenstored requires the NUL.
            Request::TransactionStart => payload.push(0),
            Request::TransactionEnd { commit } => payload.extend_from_slice(if commit { b"T\0" } else { b"F\0" }),
            Request::GetDomainPath { domid } => {
                let mut digits = [0u8; 5];
                payload.extend_from_slice(format_decimal(domid as u32, &mut digits));
                payload.push(0);
            }
        }
        if payload.len() > PAYLOAD_MAX {
            return Err(WireError::TooLong);
        }
        let header = Header { kind: self.msg_type() as u32, req_id, tx_id, len: payload.len() as u32 };
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(&payload);
        Ok(out)
    }
}

fn push_path(out: &mut Vec<u8>, path: &str) -> Result<(), WireError> {
    if path.is_empty() || path.len() > ABS_PATH_MAX {
        return Err(WireError::BadArgument("path is empty or too long"));
    }
    push_string(out, path, "path")
}

fn push_string(out: &mut Vec<u8>, s: &str, what: &'static str) -> Result<(), WireError> {
    if s.as_bytes().contains(&0) {
        return Err(WireError::BadArgument(what));
    }
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

/// Decimal digits of `v` without allocating.
pub fn format_decimal(mut v: u32, buf: &mut [u8]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// One complete message as read off the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn msg_type(&self) -> Option<MsgType> {
        MsgType::from_u32(self.header.kind)
    }
}

/// Reassembles messages from a byte stream that arrives in arbitrary pieces.
/// The length announced in a header is checked before anything is buffered.
#[derive(Default)]
pub struct MessageReader {
    header: [u8; HEADER_LEN],
    header_len: usize,
    parsed: Option<Header>,
    payload: Vec<u8>,
}

impl MessageReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many more bytes the current message needs (never 0).
    pub fn wants(&self) -> usize {
        match self.parsed {
            None => HEADER_LEN - self.header_len,
            Some(h) => h.len as usize - self.payload.len(),
        }
        .max(1)
    }

    /// Feed bytes; at most [`Self::wants`] are used, and how many is returned
    /// together with a message when one completes.
    pub fn accept(&mut self, bytes: &[u8]) -> Result<(usize, Option<Message>), WireError> {
        let mut used = 0;
        if self.parsed.is_none() {
            let n = (HEADER_LEN - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
            self.header_len += n;
            used += n;
            if self.header_len < HEADER_LEN {
                return Ok((used, None));
            }
            let header = Header::decode(&self.header);
            if header.len as usize > PAYLOAD_MAX {
                // Resynchronising is impossible: the stream is unusable.
                self.header_len = 0;
                return Err(WireError::OversizedMessage(header.len));
            }
            self.parsed = Some(header);
            self.payload = Vec::with_capacity(header.len as usize);
        }
        let header = self.parsed.expect("header parsed above");
        let n = (header.len as usize - self.payload.len()).min(bytes.len() - used);
        self.payload.extend_from_slice(&bytes[used..used + n]);
        used += n;
        if self.payload.len() < header.len as usize {
            return Ok((used, None));
        }
        self.parsed = None;
        self.header_len = 0;
        Ok((used, Some(Message { header, payload: core::mem::take(&mut self.payload) })))
    }
}

/// Split a payload of NUL-terminated strings (a directory listing, a watch
/// event). A missing final NUL is tolerated; invalid UTF-8 is an error.
pub fn split_strings(payload: &[u8]) -> Result<Vec<String>, core::str::Utf8Error> {
    let body = payload.strip_suffix(&[0]).unwrap_or(payload);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == 0).map(|s| core::str::from_utf8(s).map(String::from)).collect()
}

/// The first string of a payload (`OK\0`, a transaction id), without the NUL.
pub fn first_string(payload: &[u8]) -> &[u8] {
    payload.split(|&b| b == 0).next().unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_like_xenstored_expects() {
        let bytes = Request::Write { path: "device/vif/0/state", value: b"4" }.encode(7, 3).unwrap();
        let header = Header::decode(bytes[..16].try_into().unwrap());
        assert_eq!(header, Header { kind: 11, req_id: 7, tx_id: 3, len: 20 });
        assert_eq!(&bytes[16..], b"device/vif/0/state\x004");

        let bytes = Request::Watch { path: "control/shutdown", token: "sd" }.encode(1, 0).unwrap();
        assert_eq!(&bytes[16..], b"control/shutdown\0sd\0");
        assert_eq!(&Request::TransactionStart.encode(1, 0).unwrap()[16..], b"\0");
        assert_eq!(&Request::TransactionEnd { commit: true }.encode(1, 9).unwrap()[16..], b"T\0");
        assert_eq!(&Request::TransactionEnd { commit: false }.encode(1, 9).unwrap()[16..], b"F\0");
        assert_eq!(&Request::GetDomainPath { domid: 12 }.encode(1, 0).unwrap()[16..], b"12\0");
        assert_eq!(&Request::Read { path: "domid" }.encode(1, 0).unwrap()[..4], &2u32.to_le_bytes());
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(matches!(Request::Read { path: "a\0b" }.encode(1, 0), Err(WireError::BadArgument(_))));
        assert!(matches!(Request::Read { path: "" }.encode(1, 0), Err(WireError::BadArgument(_))));
        assert!(matches!(Request::Watch { path: "a", token: "t\0" }.encode(1, 0), Err(WireError::BadArgument(_))));
        let big = vec![b'x'; PAYLOAD_MAX];
        assert_eq!(Request::Write { path: "a", value: &big }.encode(1, 0), Err(WireError::TooLong));
    }

    #[test]
    fn reader_reassembles_messages_split_anywhere() {
        let mut stream = Vec::new();
        for (i, payload) in [&b"hello"[..], b"", &[0xAB; 4096]].iter().enumerate() {
            let h = Header { kind: 2, req_id: i as u32, tx_id: 0, len: payload.len() as u32 };
            stream.extend_from_slice(&h.encode());
            stream.extend_from_slice(payload);
        }
        for chunk in [1, 3, 7, 16, 17, 1000, 5000] {
            let mut reader = MessageReader::new();
            let mut msgs = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let take = chunk.min(rest.len()).min(reader.wants());
                let (used, msg) = reader.accept(&rest[..take]).unwrap();
                assert_eq!(used, take);
                rest = &rest[used..];
                msgs.extend(msg);
            }
            assert_eq!(msgs.len(), 3, "chunk {chunk}");
            assert_eq!(msgs[0].payload, b"hello");
            assert_eq!(msgs[1].payload, b"");
            assert_eq!(msgs[2].payload.len(), 4096);
            assert_eq!(msgs[2].header.req_id, 2);
        }
    }

    #[test]
    fn oversized_length_is_an_error_before_buffering() {
        let mut reader = MessageReader::new();
        let h = Header { kind: 2, req_id: 0, tx_id: 0, len: u32::MAX };
        assert_eq!(reader.accept(&h.encode()), Err(WireError::OversizedMessage(u32::MAX)));
    }

    #[test]
    fn payload_helpers() {
        assert_eq!(XsErrno::parse(b"ENOENT\0"), XsErrno::Enoent);
        assert_eq!(XsErrno::parse(b"EAGAIN"), XsErrno::Eagain);
        assert_eq!(XsErrno::parse(b"EWHAT\0"), XsErrno::Unknown);
        assert_eq!(XsErrno::Eacces.name(), "EACCES");
        assert_eq!(split_strings(b"0\x001\x0010\0").unwrap(), ["0", "1", "10"]);
        assert_eq!(split_strings(b"a\0b").unwrap(), ["a", "b"]);
        assert!(split_strings(b"").unwrap().is_empty());
        assert!(split_strings(b"\xff\0").is_err());
        assert_eq!(first_string(b"42\0"), b"42");
        assert_eq!(format_decimal(0, &mut [0; 10]), b"0");
        assert_eq!(format_decimal(4294967295, &mut [0; 10]), b"4294967295");
    }
}
