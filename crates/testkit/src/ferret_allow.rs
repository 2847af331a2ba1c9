//! The one allow-list of Ferret validity cases, used through [`crate::ferret::NOT_ACTUALLY_INVALID`] by
//! every test of the validity rules.

/// Cases of the data set that are not invalid under the RFC they are filed under, so a gate
/// must not refuse them. Each is checked to be accepted instead, so the list cannot go stale.
///
/// All are filed under condition 1 (RFC 2181 §5: records are unique by owner, class, type and
/// data) but hold no two equal records: Ferret's model did not tell rdata values apart, and
/// the printed zones got distinct data. Two A (or AAAA) records with different addresses are
/// one ordinary RRset of two records (RFC 2181 §5), and `cond1/95` holds no two records of
/// the same owner and type at all. BIND, NSD, Knot and PowerDNS load them (PowerDNS's one
/// complaint about `cond1/95` is the unrelated "auth=0, run rectify-zone").
pub const NOT_ACTUALLY_INVALID: &[&str] = &[
    "cond1/7", // fnni. AAAA 2400:cb00:2049:1::a29f:1804 and fnni. AAAA 2001:db8:85a3::8a2e:370:7334
    "cond1/29", // two AAAA with different addresses at one name
    "cond1/35", // www.email. A 1.1.1.1 and www.email. A 2.2.2.2
    "cond1/49", // campus. A 1.1.1.1 and campus. A 2.2.2.2
    "cond1/55", // com.bar. A 1.1.1.1 and com.bar. A 2.2.2.2
    "cond1/80", // foo. A 1.1.1.1 and foo. A 2.2.2.2
    "cond1/94", // uni.foo.bank.campus. A 1.1.1.1 and A 2.2.2.2
    "cond1/95", // SOA, apex NS and one delegation: nothing repeated
    "cond1/97", // email.com.bankcard.com. A 1.1.1.1 and A 2.2.2.2
    "cond1/98", // bar.net.foo.mybankcard. A 1.1.1.1 and A 2.2.2.2
];
