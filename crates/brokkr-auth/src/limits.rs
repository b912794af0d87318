//! Every bound the password and ACL parsers enforce, in one place (STYLE rule 3).
//!
//! The files are written by the operator, but a hostile or corrupt file must still not make one
//! login take minutes or allocate gigabytes: a hash whose cost parameters exceed these caps is
//! skipped at parse time with a warning, so verification cost is bounded before any client
//! connects. The defaults are generous for real deployments (Mosquitto writes `$7$` with 101
//! PBKDF2 iterations and argon2id with tens of MiB) and small enough for an event loop to survive.

/// Caps on password and ACL files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest password or ACL file read, in bytes.
    pub file_bytes_max: u64,
    /// Longest line accepted, in bytes; longer lines are skipped (password file) or rejected (ACL).
    pub line_bytes_max: usize,
    /// Most users in a password file; entries beyond it are skipped with a warning.
    pub users_max: usize,
    /// Most PBKDF2 iterations in a `$7$` hash. At about 1 µs per iteration on one core the default
    /// bounds one check to about a second; Mosquitto writes 101.
    pub pbkdf2_iterations_max: u32,
    /// Most memory an argon2 hash may ask for, in KiB (`m=`). The default, 256 MiB, is above
    /// Mosquitto 2.1's and OWASP's settings.
    pub argon2_memory_kib_max: u32,
    /// Most argon2 passes (`t=`).
    pub argon2_passes_max: u32,
    /// Most argon2 lanes (`p=`); lanes are computed sequentially here, so they cost no threads.
    pub argon2_lanes_max: u32,
    /// Longest salt, in bytes, in any hash.
    pub salt_bytes_max: usize,
    /// Longest argon2 output, in bytes.
    pub argon2_output_bytes_max: usize,
    /// Most rules (`topic` and `pattern` lines) in an ACL file.
    pub acl_rules_max: usize,
    /// Most levels in an ACL filter; this also bounds the depth of the ACL check's recursion.
    pub acl_filter_levels_max: usize,
}

impl Limits {
    /// The production defaults, as documented on each field.
    pub const DEFAULT: Limits = Limits {
        file_bytes_max: 256 * 1024 * 1024,
        line_bytes_max: 16 * 1024,
        users_max: 1_000_000,
        pbkdf2_iterations_max: 1_000_000,
        argon2_memory_kib_max: 256 * 1024,
        argon2_passes_max: 16,
        argon2_lanes_max: 16,
        salt_bytes_max: 256,
        argon2_output_bytes_max: 128,
        acl_rules_max: 1_000_000,
        acl_filter_levels_max: 128,
    };

    /// Tiny cost caps so a fuzz target can verify every parsed entry quickly.
    pub const FUZZ: Limits = Limits {
        pbkdf2_iterations_max: 200,
        argon2_memory_kib_max: 64,
        argon2_passes_max: 2,
        argon2_lanes_max: 2,
        ..Limits::DEFAULT
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
