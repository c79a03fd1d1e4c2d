//! A configuration embedded in the guest image (`oxclick image --embed`).
//!
//! The guest reserves [`CAPACITY`] bytes in a section of its own that start
//! with [`MAGIC`]; the image tool finds that area in the ELF file and fills it
//! in, so building a guest for a configuration needs no compiler. Layout:
//!
//! ```text
//! MAGIC (16 bytes) | text length (u32 LE) | name length (u32 LE) | name | text
//! ```
//!
//! A length of zero means no configuration: the guest then waits for one in
//! xenstore.

/// Marks the area (and versions its layout).
pub const MAGIC: [u8; 16] = *b"OXCLICK-CONFIG-1";
/// Bytes reserved for the whole area, header included.
pub const CAPACITY: usize = 64 * 1024;
/// Bytes before the name: magic and the two lengths.
pub const HEADER: usize = MAGIC.len() + 8;

/// An empty area, as the guest image holds it before embedding.
pub const fn empty_area() -> [u8; CAPACITY] {
    let mut area = [0u8; CAPACITY];
    let mut i = 0;
    while i < MAGIC.len() {
        area[i] = MAGIC[i];
        i += 1;
    }
    area
}

fn u32_at(area: &[u8], at: usize) -> Option<usize> {
    let b = area.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Bytes of the area that hold its contents (header, name and text), from its
/// first [`HEADER`] bytes: how much of it a reader needs to look at.
pub fn used_len(header: &[u8]) -> usize {
    let field = |at: usize| u32_at(header, at).unwrap_or(0);
    HEADER.saturating_add(field(MAGIC.len())).saturating_add(field(MAGIC.len() + 4)).min(CAPACITY)
}

/// The (name, text) embedded in `area`, if any. Malformed areas (wrong magic,
/// lengths past the end, text that is not UTF-8) read as none.
pub fn parse(area: &[u8]) -> Option<(&str, &str)> {
    if area.get(..MAGIC.len())? != MAGIC {
        return None;
    }
    let text_len = u32_at(area, MAGIC.len())?;
    let name_len = u32_at(area, MAGIC.len() + 4)?;
    if text_len == 0 {
        return None;
    }
    let name = area.get(HEADER..HEADER.checked_add(name_len)?)?;
    let start = HEADER + name_len;
    let text = area.get(start..start.checked_add(text_len)?)?;
    Some((core::str::from_utf8(name).ok()?, core::str::from_utf8(text).ok()?))
}

/// Why a configuration could not be embedded.
#[derive(Debug, PartialEq, Eq)]
pub enum EmbedError {
    /// The image has no configuration area (not an oxclick guest, or another version).
    NoArea,
    /// The image has more than one: refuse to guess.
    SeveralAreas,
    /// Name and text need this many bytes; the area holds [`CAPACITY`].
    TooBig(usize),
}

impl core::fmt::Display for EmbedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EmbedError::NoArea => write!(f, "no configuration area in the guest image (not an oxclick guest?)"),
            EmbedError::SeveralAreas => write!(f, "the guest image has more than one configuration area"),
            EmbedError::TooBig(n) => write!(
                f,
                "the configuration needs {n} bytes but a guest image holds {CAPACITY}; install it through xenstore instead (oxclick boot)"
            ),
        }
    }
}

/// Write `name` and `text` into the configuration area of guest `image` (the
/// ELF file's bytes).
pub fn embed(image: &mut [u8], name: &str, text: &str) -> Result<(), EmbedError> {
    let need = HEADER + name.len() + text.len();
    if need > CAPACITY {
        return Err(EmbedError::TooBig(need));
    }
    let mut found = image.windows(MAGIC.len()).enumerate().filter(|(_, w)| *w == MAGIC).map(|(i, _)| i);
    let at = found.next().ok_or(EmbedError::NoArea)?;
    if found.next().is_some() {
        return Err(EmbedError::SeveralAreas);
    }
    let area = image.get_mut(at..at + CAPACITY).ok_or(EmbedError::NoArea)?;
    area[HEADER..].fill(0);
    area[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&(text.len() as u32).to_le_bytes());
    area[MAGIC.len() + 4..HEADER].copy_from_slice(&(name.len() as u32).to_le_bytes());
    area[HEADER..HEADER + name.len()].copy_from_slice(name.as_bytes());
    area[HEADER + name.len()..need].copy_from_slice(text.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_then_parse() {
        let mut image = vec![7u8; 100];
        image.extend_from_slice(&empty_area());
        image.extend_from_slice(&[9u8; 50]);
        assert_eq!(parse(&image[100..]), None);
        embed(&mut image, "mirror", "FromNetfront(0) -> ToNetfront(0)").unwrap();
        assert_eq!(parse(&image[100..]), Some(("mirror", "FromNetfront(0) -> ToNetfront(0)")));
        assert_eq!(used_len(&image[100..100 + HEADER]), HEADER + 6 + 32);
        assert_eq!(parse(&image[100..100 + used_len(&image[100..100 + HEADER])]), parse(&image[100..]));
        // Embedding again replaces it, leaving no tail of the old one.
        embed(&mut image, "n", "Idle -> Discard").unwrap();
        assert_eq!(parse(&image[100..]), Some(("n", "Idle -> Discard")));
        assert!(image[100 + HEADER + 16..100 + CAPACITY].iter().all(|b| *b == 0));
        assert_eq!(image[100 + CAPACITY..], [9u8; 50]);
    }

    #[test]
    fn refusals() {
        let mut image = empty_area().to_vec();
        assert_eq!(embed(&mut image, "x", &"a".repeat(CAPACITY)), Err(EmbedError::TooBig(HEADER + 1 + CAPACITY)));
        assert_eq!(embed(&mut [0u8; 64], "x", "y"), Err(EmbedError::NoArea));
        let mut two = empty_area().to_vec();
        two.extend_from_slice(&empty_area());
        assert_eq!(embed(&mut two, "x", "y"), Err(EmbedError::SeveralAreas));
        // A truncated image cannot be written past its end.
        let mut short = empty_area()[..100].to_vec();
        assert_eq!(embed(&mut short, "x", "y"), Err(EmbedError::NoArea));
    }

    #[test]
    fn malformed_areas_read_as_none() {
        let mut area = empty_area();
        area[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&area), None);
        assert_eq!(used_len(&area), CAPACITY);
        let mut area = empty_area();
        area[16..20].copy_from_slice(&2u32.to_le_bytes());
        area[HEADER..HEADER + 2].copy_from_slice(&[0xff, 0xfe]);
        assert_eq!(parse(&area), None);
    }
}
