//! Dashboard users: who may log in to wijkpost's dashboard, with which [`Role`].
//!
//! A user has a name, a role and an argon2id password hash (a PHC string such as
//! `$argon2id$v=19$m=19456,t=2,p=1$…`, the OWASP minimum parameters); the password itself is never
//! stored or logged. [`verify_password`] takes as long for an unknown user as for a wrong
//! password ([`verify_unknown`]), so the login does not tell which names exist.
//!
//! The rows live in the store's `users` table (see [`crate::store`]); the CLI (`wijkpost user`)
//! and the dashboard's admin page create and disable them; sessions are the web side's
//! ([`crate::web`]).

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use rand::RngCore;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 takes any length, but a megabyte "password" is an attack).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A well-formed hash, with the default parameters, of a password nobody has.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$VYyrVgCe5Gz6mB+Vn2h8TyHbSBlYIOmJ2BV2HDI1GbE";

/// What a user may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything: trends, tokens, enrolled agents (the only place organisations are named), users.
    Admin,
    /// k-anonymous trends only.
    Analyst,
}

impl Role {
    /// The slug stored and typed: `admin` or `analyst`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
        }
    }
}

impl FromStr for Role {
    type Err = UserError;

    fn from_str(s: &str) -> Result<Role, UserError> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            _ => Err(UserError::BadRole),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name ([`check_name`]).
    pub name: String,
    /// argon2id PHC string ([`hash_password`]).
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Disabled users cannot log in, and their sessions end.
    pub disabled: bool,
}

/// Why a user cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// Not a usable login name.
    #[error("a user name is 1 to 64 characters a-z, 0-9, '.', '_', '-' (lower case), starting with a letter or digit")]
    BadName,
    /// Not a role.
    #[error("a role is admin or analyst")]
    BadRole,
    /// Too short or too long.
    #[error("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} bytes; choose a longer passphrase")]
    BadPassword,
    /// The hasher failed (it only does on absurd parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks a login name: 1-64 of `a-z 0-9 . _ -`, first a letter or digit.
pub fn check_name(name: &str) -> Result<(), UserError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if first_ok && name.len() <= 64 && name.chars().all(ok_char) {
        Ok(())
    } else {
        Err(UserError::BadName)
    }
}

/// The argon2id PHC hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::BadPassword);
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (a damaged hash never matches).
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification, for a name that does not exist; always `false`.
pub fn verify_unknown(password: &str) -> bool {
    let _ = verify_password(DUMMY_HASH, password);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery!"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert!(!verify_unknown("correct horse battery"));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok(), "the dummy costs a real verification");
        assert_ne!(hash, hash_password("correct horse battery").expect("hash"), "salted");
    }

    #[test]
    fn names_passwords_and_roles_are_checked() {
        assert!(check_name("an.peeters").is_ok());
        for bad in ["", "An", "-x", "a b", "a<b", &"a".repeat(65)] {
            assert_eq!(check_name(bad), Err(UserError::BadName), "{bad:?}");
        }
        assert_eq!(hash_password("short"), Err(UserError::BadPassword));
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("root".parse::<Role>(), Err(UserError::BadRole));
    }
}
