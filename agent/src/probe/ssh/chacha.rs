//! ChaCha20 (the original 64-bit nonce form), Poly1305 and the `chacha20-poly1305@openssh.com`
//! packet cipher (OpenSSH `PROTOCOL.chacha20poly1305`), just enough to read the list of
//! authentication methods after a key exchange. Nothing secret travels over it: the probe sends
//! only a `none` authentication request. Checked against the RFC 8439 test vectors.

/// One ChaCha20 block: 256-bit key, 64-bit block counter, 64-bit nonce.
pub fn block(key: &[u8; 32], counter: u64, nonce: &[u8; 8]) -> [u8; 64] {
    let mut s = [0u32; 16];
    s[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for (i, w) in key.chunks_exact(4).enumerate() {
        s[4 + i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    s[12] = counter as u32;
    s[13] = (counter >> 32) as u32;
    s[14] = u32::from_le_bytes([nonce[0], nonce[1], nonce[2], nonce[3]]);
    s[15] = u32::from_le_bytes([nonce[4], nonce[5], nonce[6], nonce[7]]);
    let mut x = s;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for i in 0..16 {
        out[4 * i..4 * i + 4].copy_from_slice(&x[i].wrapping_add(s[i]).to_le_bytes());
    }
    out
}

fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// XORs `data` with the key stream starting at block `counter`.
pub fn xor(key: &[u8; 32], nonce: &[u8; 8], counter: u64, data: &mut [u8]) {
    for (i, chunk) in data.chunks_mut(64).enumerate() {
        let stream = block(key, counter.wrapping_add(i as u64), nonce);
        for (b, k) in chunk.iter_mut().zip(stream.iter()) {
            *b ^= k;
        }
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Poly1305 of `msg` under a one-time `key` (26-bit limbs).
pub fn poly1305(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    const M: u32 = 0x3ff_ffff;
    let r = [
        le32(&key[0..]) & 0x3ff_ffff,
        (le32(&key[3..]) >> 2) & 0x3ff_ff03,
        (le32(&key[6..]) >> 4) & 0x3ff_c0ff,
        (le32(&key[9..]) >> 6) & 0x3f0_3fff,
        (le32(&key[12..]) >> 8) & 0x00f_ffff,
    ]
    .map(u64::from);
    let s = [r[1] * 5, r[2] * 5, r[3] * 5, r[4] * 5];
    let mut h = [0u32; 5];
    for chunk in msg.chunks(16) {
        let mut b = [0u8; 17];
        b[..chunk.len()].copy_from_slice(chunk);
        b[chunk.len()] = 1;
        h[0] += le32(&b[0..]) & M;
        h[1] += (le32(&b[3..]) >> 2) & M;
        h[2] += (le32(&b[6..]) >> 4) & M;
        h[3] += (le32(&b[9..]) >> 6) & M;
        h[4] += (le32(&b[12..]) >> 8) | (u32::from(b[16]) << 24);
        let h64 = h.map(u64::from);
        let d = [
            h64[0] * r[0] + h64[1] * s[3] + h64[2] * s[2] + h64[3] * s[1] + h64[4] * s[0],
            h64[0] * r[1] + h64[1] * r[0] + h64[2] * s[3] + h64[3] * s[2] + h64[4] * s[1],
            h64[0] * r[2] + h64[1] * r[1] + h64[2] * r[0] + h64[3] * s[3] + h64[4] * s[2],
            h64[0] * r[3] + h64[1] * r[2] + h64[2] * r[1] + h64[3] * r[0] + h64[4] * s[3],
            h64[0] * r[4] + h64[1] * r[3] + h64[2] * r[2] + h64[3] * r[1] + h64[4] * r[0],
        ];
        let mut c = 0u64;
        for i in 0..5 {
            let v = d[i] + c;
            h[i] = (v as u32) & M;
            c = v >> 26;
        }
        h[0] += (c as u32) * 5;
        h[1] += h[0] >> 26;
        h[0] &= M;
    }
    // Full carry, then h - p if h >= p.
    let mut c;
    for i in 1..5 {
        c = h[i] >> 26;
        h[i] &= M;
        if i < 4 {
            h[i + 1] += c;
        } else {
            h[0] += c * 5;
        }
    }
    c = h[0] >> 26;
    h[0] &= M;
    h[1] += c;
    let mut g = [0u32; 5];
    c = 5;
    for i in 0..4 {
        let v = h[i] + c;
        g[i] = v & M;
        c = v >> 26;
    }
    g[4] = h[4].wrapping_add(c).wrapping_sub(1 << 26);
    let keep_g = (g[4] >> 31).wrapping_sub(1); // all ones when h >= p
    for i in 0..5 {
        h[i] = (h[i] & !keep_g) | (g[i] & keep_g);
    }
    let words =
        [h[0] | (h[1] << 26), (h[1] >> 6) | (h[2] << 20), (h[2] >> 12) | (h[3] << 14), (h[3] >> 18) | (h[4] << 8)];
    let mut out = [0u8; 16];
    let mut carry = 0u64;
    for i in 0..4 {
        let v = u64::from(words[i]) + u64::from(le32(&key[16 + 4 * i..])) + carry;
        out[4 * i..4 * i + 4].copy_from_slice(&(v as u32).to_le_bytes());
        carry = v >> 32;
    }
    out
}

/// One direction of `chacha20-poly1305@openssh.com`: 64 bytes of key material, the first half
/// (K_2) for the payload and the Poly1305 key, the second half (K_1) for the length.
#[derive(Debug, Clone)]
pub struct PacketCipher {
    main: [u8; 32],
    header: [u8; 32],
}

/// Tag length.
pub const TAG: usize = 16;

impl PacketCipher {
    /// The cipher from 64 bytes of derived key material.
    pub fn new(key: &[u8; 64]) -> PacketCipher {
        let mut main = [0u8; 32];
        let mut header = [0u8; 32];
        main.copy_from_slice(&key[..32]);
        header.copy_from_slice(&key[32..]);
        PacketCipher { main, header }
    }

    /// Encrypts `payload` as packet number `seq` (padding to 8 bytes, length excluded).
    pub fn seal(&self, seq: u32, payload: &[u8]) -> Vec<u8> {
        let nonce = u64::from(seq).to_be_bytes();
        let pad = 8 - (1 + payload.len()) % 8;
        let pad = if pad < 4 { pad + 8 } else { pad };
        let len = u32::try_from(1 + payload.len() + pad).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(4 + len as usize + TAG);
        out.extend_from_slice(&len.to_be_bytes());
        out.push(pad as u8);
        out.extend_from_slice(payload);
        let mut padding = vec![0u8; pad];
        rand::Rng::fill(&mut rand::thread_rng(), &mut padding[..]);
        out.extend_from_slice(&padding);
        xor(&self.header, &nonce, 0, &mut out[..4]);
        xor(&self.main, &nonce, 1, &mut out[4..]);
        let tag = poly1305(&self.poly_key(&nonce), &out);
        out.extend_from_slice(&tag);
        out
    }

    /// The packet length of packet `seq` from its first four (encrypted) bytes.
    pub fn length(&self, seq: u32, first: [u8; 4]) -> usize {
        let mut len = first;
        xor(&self.header, &u64::from(seq).to_be_bytes(), 0, &mut len);
        u32::from_be_bytes(len) as usize
    }

    /// Checks and decrypts packet `seq` (length, body and tag as received); its payload, or `None`
    /// when the tag or the padding is wrong.
    pub fn open(&self, seq: u32, packet: &[u8]) -> Option<Vec<u8>> {
        let nonce = u64::from(seq).to_be_bytes();
        let (sealed, tag) = packet.split_at(packet.len().checked_sub(TAG)?);
        let expected = poly1305(&self.poly_key(&nonce), sealed);
        if expected.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
            return None;
        }
        let mut body = sealed.get(4..)?.to_vec();
        xor(&self.main, &nonce, 1, &mut body);
        let pad = usize::from(*body.first()?);
        let end = body.len().checked_sub(pad)?;
        (end >= 1).then(|| body[1..end].to_vec())
    }

    fn poly_key(&self, nonce: &[u8; 8]) -> [u8; 32] {
        let stream = block(&self.main, 0, nonce);
        let mut key = [0u8; 32];
        key.copy_from_slice(&stream[..32]);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        hex::decode(s).expect("hex")
    }

    #[test]
    fn chacha20_block_of_rfc8439_2_3_2() {
        // RFC 8439 uses a 32-bit counter and a 96-bit nonce; with counter 1 and nonce
        // 00000009 0000004a 00000000 the state words 12..15 equal our 64-bit counter
        // 0x09000000_00000001 and 64-bit nonce 0000004a 00000000.
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let counter = 1u64 | (u64::from(u32::from_le_bytes([0, 0, 0, 9])) << 32);
        let nonce = [0, 0, 0, 0x4a, 0, 0, 0, 0];
        let expected = unhex(
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e
             d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
        );
        assert_eq!(block(&key, counter, &nonce).to_vec(), expected);
    }

    #[test]
    fn poly1305_of_rfc8439_2_5_2() {
        let key: [u8; 32] =
            unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b").try_into().expect("32 bytes");
        let tag = poly1305(&key, b"Cryptographic Forum Research Group");
        assert_eq!(tag.to_vec(), unhex("a8061dc1305136c6c22b8baf0c0127a9"));
    }

    #[test]
    fn poly1305_edge_cases() {
        // RFC 8439 A.3 #1: all-zero key and message give a zero tag; an empty message gives s.
        assert_eq!(poly1305(&[0u8; 32], &[0u8; 64]), [0u8; 16]);
        let mut key = [0u8; 32];
        key[16..].copy_from_slice(&[7u8; 16]);
        assert_eq!(poly1305(&key, b""), [7u8; 16]);
        // RFC 8439 A.3 #5: h reaches p exactly (r = 2, message 2^128 - 1) and must reduce.
        let mut key = [0u8; 32];
        key[0] = 2;
        assert_eq!(poly1305(&key, &[0xff; 16]).to_vec(), unhex("03000000000000000000000000000000"));
        // Cross-checked with OpenSSL (Python `cryptography`): a 100-byte message with a partial last
        // block, and all-ones key and message (largest limbs).
        let key: [u8; 32] = core::array::from_fn(|i| (i * 13 + 5) as u8);
        let msg: Vec<u8> = (0..100).map(|i| (i * 31) as u8).collect();
        assert_eq!(poly1305(&key, &msg).to_vec(), unhex("5c3407cd476d6e04eaa5ee5628c0bad8"));
        assert_eq!(poly1305(&[0xff; 32], &[0xff; 33]).to_vec(), unhex("86fa6a437bf4ec24a274504dc37495bc"));
    }

    #[test]
    fn packets_round_trip_and_tampering_is_caught() {
        let key: [u8; 64] = core::array::from_fn(|i| (i * 7) as u8);
        let cipher = PacketCipher::new(&key);
        let sealed = cipher.seal(3, b"\x05hello");
        assert_eq!(cipher.length(3, [sealed[0], sealed[1], sealed[2], sealed[3]]) + 4 + TAG, sealed.len());
        assert_eq!(cipher.open(3, &sealed), Some(b"\x05hello".to_vec()));
        assert_eq!(cipher.open(4, &sealed), None, "wrong sequence number");
        let mut bad = sealed.clone();
        bad[6] ^= 1;
        assert_eq!(cipher.open(3, &bad), None, "flipped bit");
        assert_eq!(cipher.open(3, &sealed[..10]), None, "truncated");
        assert_eq!(cipher.open(3, &[]), None, "empty");
    }
}
