//! A stable hash of a name: FNV-1a, 64 bits, over its UTF-8 bytes. Which shard collects an org
//! and when its first collection starts both follow from it, so it must give the same value on
//! every platform and in every release; std's `DefaultHasher` promises neither.

/// FNV-1a's 64-bit offset basis and prime (<http://www.isthe.com/chongo/tech/comp/fnv/>).
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `name`'s UTF-8 bytes.
pub(crate) fn fnv1a64(name: &str) -> u64 {
    name.bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::fnv1a64;

    /// Pinned values: the reference vectors of FNV-1a 64 and a few org names. A change here
    /// moves orgs between shards and moves first collections.
    #[test]
    fn the_hash_is_fnv1a_64() {
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64("foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a64("acme"), 0x0724_d383_f4f6_de0f);
        assert_eq!(fnv1a64("globex"), 0x7fc1_2157_b54b_b22e);
        // UTF-8 bytes, not chars or UTF-16 units.
        assert_eq!(fnv1a64("zürich"), 0xfe8b_b21e_6544_b7a0);
    }
}
