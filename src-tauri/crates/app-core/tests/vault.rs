//! The vault against each of its stores.
//!
//! Memory and the encrypted file run in this process. The real keyrings need a session that a
//! test process doesn't have, so those tests re-run themselves (`<this binary> <name> --exact`)
//! inside one: `keyctl session -` for kernel keyutils, `scripts/vault-test.sh secret-service`
//! (a private D-Bus session with a throwaway GNOME Keyring) for Secret Service. The child is told
//! apart by the `USP_HOME_VAULT_TEST_CHILD` variable. A keyring test is skipped, with the reason
//! written to stderr, only when the tools for its session are not installed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use app_core::secret::Secret;
use app_core::vault::{
    SecretKind, Vault, VaultBackend, VaultBackendKind, VaultConfig, VaultError, VaultPersistence, MAX_ID_LEN,
    VAULT_FILE_NAME,
};
use base64::Engine as _;

const CHILD: &str = "USP_HOME_VAULT_TEST_CHILD";
const PASSPHRASE: &str = "correct horse battery staple";
const WIFI: &[u8] = b"wifi-secret-Tr0ub4dor&3-guest-net";

fn secret(bytes: &[u8]) -> Secret<Vec<u8>> {
    Secret::from_slice(bytes)
}

fn passphrase(p: &str) -> Option<Secret<String>> {
    Some(Secret::new(p.to_owned()))
}

/// A private key-like value with every byte value, so no encoding of it can hide in text.
fn controller_key() -> Vec<u8> {
    let mut der = vec![0x30, 0x81, 0x87, 0x02, 0x01, 0x00];
    der.extend((0..=255u8).rev());
    der
}

fn forced(dir: &Path, kind: VaultBackendKind, pass: Option<&str>) -> Result<Vault, VaultError> {
    Vault::open(VaultConfig { passphrase: pass.and_then(passphrase), prefer: Some(kind), ..VaultConfig::new(dir) })
}

/// A keyring service name of this run's own: the test never sees or changes the app's entries,
/// nor those of a test running at the same time (the kernel's persistent keyring is per user).
fn test_service() -> String {
    format!("org.usphome.app.test-{}", uuid::Uuid::new_v4().simple())
}

fn keyring_vault(dir: &Path, kind: VaultBackendKind, service: &str) -> Result<Vault, VaultError> {
    Vault::open(VaultConfig { prefer: Some(kind), service: Some(service.to_owned()), ..VaultConfig::new(dir) })
}

fn file_vault(dir: &Path, pass: &str) -> Vault {
    forced(dir, VaultBackendKind::EncryptedFile, Some(pass)).expect("encrypted file opens")
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// The whole API on one vault, with ids unique to this run so a shared keyring is not disturbed.
fn exercise(vault: &Vault) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let agent_a = format!("os::usp-home-test-{run}-a");
    let agent_b = format!("proto::usp-home-test-{run}-b");
    let key_id = format!("test-{run}");

    assert!(vault.get(SecretKind::Passcode, &agent_a).expect("get").is_none());
    vault.put(SecretKind::Passcode, &agent_b, &secret(b"2468")).expect("put b");
    vault.put(SecretKind::Passcode, &agent_a, &secret(b"1357")).expect("put a");
    vault.put(SecretKind::ControllerKey, &key_id, &secret(&controller_key())).expect("put key");
    vault.put(SecretKind::Passcode, &agent_a, &secret(b"9999")).expect("replace a");

    let a = vault.get(SecretKind::Passcode, &agent_a).expect("get a");
    assert_eq!(a.as_ref().map(|s| s.expose().as_slice()), Some(&b"9999"[..]));
    let key = vault.get(SecretKind::ControllerKey, &key_id).expect("get key");
    assert_eq!(key.map(|s| s.expose().clone()), Some(controller_key()));
    assert!(
        vault.get(SecretKind::WifiPassphrase, &agent_a).expect("other kind").is_none(),
        "kinds are separate id spaces"
    );

    let listed = vault.list(SecretKind::Passcode).expect("list");
    let mine: Vec<&String> = listed.iter().filter(|id| id.contains(&run)).collect();
    let mut expected = vec![&agent_a, &agent_b];
    expected.sort();
    assert_eq!(mine, expected, "sorted, once each");
    assert!(vault.list(SecretKind::ControllerKey).expect("list keys").contains(&key_id));

    vault.delete(SecretKind::Passcode, &agent_a).expect("delete a");
    vault.delete(SecretKind::Passcode, &agent_a).expect("deleting twice is fine");
    assert!(vault.get(SecretKind::Passcode, &agent_a).expect("get").is_none());
    let listed = vault.list(SecretKind::Passcode).expect("list");
    assert!(!listed.contains(&agent_a) && listed.contains(&agent_b));

    vault.delete(SecretKind::Passcode, &agent_b).expect("delete b");
    vault.delete(SecretKind::ControllerKey, &key_id).expect("delete key");
    assert!(!vault.list(SecretKind::ControllerKey).expect("list").contains(&key_id));
}

// ----------------------------------------------------------------------------------------------
// Memory

#[test]
fn memory_round_trip_list_and_delete() {
    let dir = temp_dir();
    let vault = forced(dir.path(), VaultBackendKind::Memory, None).expect("memory opens");
    assert_eq!(vault.backend(), VaultBackend::Memory);
    assert_eq!(vault.backend().persistence(), VaultPersistence::UntilAppExits);
    assert_eq!(
        vault.backend().describe(),
        "No keyring on this system: secrets are kept only in memory and you will need to pair \
         again after a restart."
    );
    exercise(&vault);
    assert_eq!(std::fs::read_dir(dir.path()).expect("read dir").count(), 0, "memory writes nothing");
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<Vault>();
}

#[test]
fn ids_and_values_are_checked() {
    let dir = temp_dir();
    let vault = forced(dir.path(), VaultBackendKind::Memory, None).expect("memory opens");
    let long = "x".repeat(MAX_ID_LEN + 1);
    for bad in ["", "line\nbreak", long.as_str()] {
        match vault.put(SecretKind::Passcode, bad, &secret(b"1")) {
            Err(VaultError::InvalidId { kind, .. }) => assert_eq!(kind, SecretKind::Passcode),
            other => panic!("{bad:?} accepted: {other:?}"),
        }
        assert!(matches!(vault.get(SecretKind::Passcode, bad), Err(VaultError::InvalidId { .. })));
    }
    assert!(vault.put(SecretKind::Passcode, &"x".repeat(MAX_ID_LEN), &secret(b"1")).is_ok());
    assert!(matches!(
        vault.put(SecretKind::WifiPassphrase, "home", &secret(b"")),
        Err(VaultError::EmptySecret { kind: SecretKind::WifiPassphrase })
    ));
}

// ----------------------------------------------------------------------------------------------
// Encrypted file

#[test]
fn encrypted_file_round_trips_across_reopen() {
    let dir = temp_dir();
    let data_dir = dir.path().join("data");
    let path = data_dir.join(VAULT_FILE_NAME);
    {
        let vault = file_vault(&data_dir, PASSPHRASE);
        assert_eq!(vault.backend(), VaultBackend::EncryptedFile { path: path.clone() });
        assert_eq!(vault.backend().persistence(), VaultPersistence::UntilDeleted);
        let described = vault.backend().describe();
        assert!(
            described.starts_with("Secrets are kept in the encrypted file")
                && described.contains(&path.display().to_string()),
            "{described}"
        );
        exercise(&vault);
        vault.put(SecretKind::ControllerKey, "default", &secret(&controller_key())).expect("put key");
        vault.put(SecretKind::WifiPassphrase, "home-5g", &secret(WIFI)).expect("put wifi");
        vault.put(SecretKind::PinnedCert, "os::agent-1", &secret(b"sha256:ab:cd")).expect("put pin");
    }
    let vault = file_vault(&data_dir, PASSPHRASE);
    let key = vault.get(SecretKind::ControllerKey, "default").expect("get");
    assert_eq!(key.map(|s| s.expose().clone()), Some(controller_key()));
    assert_eq!(vault.list(SecretKind::WifiPassphrase).expect("list"), vec!["home-5g".to_owned()]);
    vault.delete(SecretKind::WifiPassphrase, "home-5g").expect("delete");
    drop(vault);
    let vault = file_vault(&data_dir, PASSPHRASE);
    assert!(vault.get(SecretKind::WifiPassphrase, "home-5g").expect("get").is_none());
    assert_eq!(vault.list(SecretKind::PinnedCert).expect("list"), vec!["os::agent-1".to_owned()]);
}

#[test]
fn encrypted_file_refuses_a_wrong_passphrase_without_damage() {
    let dir = temp_dir();
    let path = dir.path().join(VAULT_FILE_NAME);
    file_vault(dir.path(), PASSPHRASE).put(SecretKind::WifiPassphrase, "home", &secret(WIFI)).expect("put");
    let before = std::fs::read(&path).expect("vault file");

    let wrong = "correct horse battery stapler";
    let error = forced(dir.path(), VaultBackendKind::EncryptedFile, Some(wrong)).expect_err("wrong passphrase refused");
    assert!(matches!(&error, VaultError::WrongPassphrase { path: p } if *p == path), "{error:?}");
    assert!(error.to_string().starts_with("The vault passphrase is wrong."));
    assert_redacted(&error, &[wrong.as_bytes(), PASSPHRASE.as_bytes(), WIFI]);
    assert_eq!(std::fs::read(&path).expect("vault file"), before, "file untouched");

    // Nor does "no keyring here, fall back" paper over it.
    let error =
        Vault::open(VaultConfig { passphrase: passphrase(wrong), prefer: None, ..VaultConfig::new(dir.path()) })
            .expect_err("still wrong");
    assert!(matches!(error, VaultError::WrongPassphrase { .. }));

    let vault = file_vault(dir.path(), PASSPHRASE);
    let wifi = vault.get(SecretKind::WifiPassphrase, "home").expect("get");
    assert_eq!(wifi.map(|s| s.expose().clone()), Some(WIFI.to_vec()));
}

#[test]
fn encrypted_file_never_holds_plain_secrets() {
    let dir = temp_dir();
    let vault = file_vault(dir.path(), PASSPHRASE);
    vault.put(SecretKind::WifiPassphrase, "home-5g", &secret(WIFI)).expect("put wifi");
    vault.put(SecretKind::ControllerKey, "default", &secret(&controller_key())).expect("put key");
    vault.put(SecretKind::Passcode, "os::agent-7", &secret(b"passcode-8642-8642")).expect("put passcode");
    let file = std::fs::read(dir.path().join(VAULT_FILE_NAME)).expect("vault file");
    for plain in [WIFI, &controller_key()[..], b"passcode-8642-8642", PASSPHRASE.as_bytes(), b"home-5g", b"os::agent-7"]
    {
        for encoding in encodings(plain) {
            assert!(
                !contains(&file, &encoding),
                "the file holds {:?} in some encoding",
                String::from_utf8_lossy(plain)
            );
        }
    }
}

/// `bytes` as raw, hex (both cases) and base64 (standard and URL-safe, at each of the three
/// alignments, without the partial groups at either end).
fn encodings(bytes: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![bytes.to_vec(), hex.clone().into_bytes(), hex.to_uppercase().into_bytes()];
    for skip in 0..3 {
        let tail = &bytes[skip..];
        let whole = &tail[..tail.len() / 3 * 3];
        for engine in
            [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
        {
            out.push(engine.encode(whole).into_bytes());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(unix)]
#[test]
fn encrypted_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let data_dir = dir.path().join("new").join("data");
    let path = data_dir.join(VAULT_FILE_NAME);
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;

    let vault = file_vault(&data_dir, PASSPHRASE);
    assert_eq!(mode(&path), 0o600, "new file");
    assert_eq!(mode(&data_dir), 0o700, "folder created for it");
    vault.put(SecretKind::Passcode, "os::a", &secret(b"1234")).expect("put");
    assert_eq!(mode(&path), 0o600, "after a rewrite");
    drop(vault);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let vault = file_vault(&data_dir, PASSPHRASE);
    assert_eq!(mode(&path), 0o600, "tightened when opened");
    drop(vault);
    let names: Vec<_> =
        std::fs::read_dir(&data_dir).expect("read dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from(VAULT_FILE_NAME)], "no temporary left");
}

#[test]
fn encrypted_file_reports_damage_and_leaves_it_alone() {
    let dir = temp_dir();
    let path = dir.path().join(VAULT_FILE_NAME);
    file_vault(dir.path(), PASSPHRASE).put(SecretKind::Passcode, "os::a", &secret(b"1234")).expect("put");
    let good = std::fs::read(&path).expect("vault file");

    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    std::fs::write(&path, &flipped).expect("tamper");
    let error =
        forced(dir.path(), VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).expect_err("tampered file refused");
    assert!(matches!(error, VaultError::CorruptFile { .. }), "{error:?}");
    assert_eq!(std::fs::read(&path).expect("vault file"), flipped);

    let mut newer = good.clone();
    newer[8] = 2;
    std::fs::write(&path, &newer).expect("newer format");
    let error =
        forced(dir.path(), VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).expect_err("newer format refused");
    assert!(matches!(error, VaultError::UnsupportedFileVersion { version: 2, .. }), "{error:?}");

    std::fs::write(&path, b"{\"passcode\": \"1234\"}").expect("foreign file");
    let error =
        forced(dir.path(), VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).expect_err("foreign file refused");
    assert!(
        matches!(error, VaultError::CorruptFile { problem, .. } if problem.contains("not a usp-home vault")),
        "{error:?}"
    );
    assert_eq!(std::fs::read(&path).expect("vault file"), b"{\"passcode\": \"1234\"}");
}

#[test]
fn passphrase_rules() {
    let dir = temp_dir();
    assert!(matches!(forced(dir.path(), VaultBackendKind::EncryptedFile, None), Err(VaultError::PassphraseRequired)));
    assert!(matches!(forced(dir.path(), VaultBackendKind::EncryptedFile, Some("")), Err(VaultError::EmptyPassphrase)));
    assert_eq!(std::fs::read_dir(dir.path()).expect("read dir").count(), 0);
}

// ----------------------------------------------------------------------------------------------
// Redaction

#[test]
fn secrets_and_configs_print_redacted() {
    let s = Secret::new(PASSPHRASE.to_owned());
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    let key = secret(&controller_key());
    assert_eq!(format!("{:?}", Some(key.clone())), "Some(Secret(<redacted>))");
    let config = VaultConfig { passphrase: passphrase(PASSPHRASE), ..VaultConfig::new(PathBuf::from("/data")) };
    let printed = format!("{config:?} {config:#?}");
    assert!(printed.contains("Secret(<redacted>)"));
    assert!(!printed.contains(PASSPHRASE), "{printed}");
}

/// Every error the vault can produce, made to happen with secrets in play where it can be.
#[test]
fn every_error_is_redacted_and_says_what_to_do() {
    let dir = temp_dir();
    let mut errors: Vec<VaultError> = Vec::new();

    let memory = forced(dir.path(), VaultBackendKind::Memory, None).expect("memory");
    errors.extend(memory.put(SecretKind::Passcode, "a\u{7}b", &secret(WIFI)).err());
    errors.extend(memory.put(SecretKind::Passcode, "os::a", &secret(b"")).err());
    errors.extend(forced(dir.path(), VaultBackendKind::EncryptedFile, None).err());
    errors.extend(forced(dir.path(), VaultBackendKind::EncryptedFile, Some("")).err());

    file_vault(dir.path(), PASSPHRASE).put(SecretKind::WifiPassphrase, "home", &secret(WIFI)).expect("put");
    errors.extend(forced(dir.path(), VaultBackendKind::EncryptedFile, Some("not it")).err());
    let path = dir.path().join(VAULT_FILE_NAME);
    let mut bytes = std::fs::read(&path).expect("vault file");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    std::fs::write(&path, &bytes).expect("tamper");
    errors.extend(forced(dir.path(), VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).err());
    bytes[8] = 9;
    std::fs::write(&path, &bytes).expect("newer");
    errors.extend(forced(dir.path(), VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).err());

    // A data folder that is a file: the folder can't be created.
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, b"x").expect("file");
    errors.extend(forced(&not_a_dir, VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).err());

    // Keyring errors carry only what the vault wrote; shown here with the wording the UI gets.
    errors.push(VaultError::BackendUnavailable {
        backend: VaultBackendKind::SecretService,
        reason: "it did not store a test entry (the system said: no D-Bus session)".to_owned(),
    });
    errors.push(VaultError::Keyring {
        backend: VaultBackendKind::KernelKeyutils,
        action: "save",
        kind: SecretKind::WifiPassphrase,
        id: Some("home".to_owned()),
        reason: "the store is locked or access was refused".to_owned(),
    });
    errors.push(VaultError::CorruptIndex { backend: VaultBackendKind::SecretService, kind: SecretKind::Passcode });

    let names: Vec<&str> = errors.iter().map(variant).collect();
    for expected in [
        "InvalidId",
        "EmptySecret",
        "PassphraseRequired",
        "EmptyPassphrase",
        "WrongPassphrase",
        "CorruptFile",
        "UnsupportedFileVersion",
        "Io",
        "BackendUnavailable",
        "Keyring",
        "CorruptIndex",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    for error in &errors {
        assert_redacted(error, &[PASSPHRASE.as_bytes(), b"not it", WIFI]);
        let text = error.to_string();
        assert!(text.ends_with('.') && text.len() > 40, "{text}");
    }
    let wording = errors.iter().find(|e| matches!(e, VaultError::Keyring { .. })).map(ToString::to_string);
    assert_eq!(
        wording.as_deref(),
        Some(
            "The kernel keyring (keyutils) could not save the WiFi passphrase for \"home\": the \
             store is locked or access was refused. If the keyring is locked, unlock it and try \
             again."
        )
    );
}

fn variant(error: &VaultError) -> &'static str {
    match error {
        VaultError::WrongPassphrase { .. } => "WrongPassphrase",
        VaultError::EmptyPassphrase => "EmptyPassphrase",
        VaultError::PassphraseRequired => "PassphraseRequired",
        VaultError::CorruptFile { .. } => "CorruptFile",
        VaultError::UnsupportedFileVersion { .. } => "UnsupportedFileVersion",
        VaultError::Io { .. } => "Io",
        VaultError::BackendUnavailable { .. } => "BackendUnavailable",
        VaultError::Keyring { .. } => "Keyring",
        VaultError::CorruptIndex { .. } => "CorruptIndex",
        VaultError::InvalidId { .. } => "InvalidId",
        VaultError::EmptySecret { .. } => "EmptySecret",
        _ => "unknown",
    }
}

fn assert_redacted(error: &VaultError, secrets: &[&[u8]]) {
    let printed = format!("{error:?} | {error:#?} | {error}");
    for secret in secrets {
        for encoding in encodings(secret) {
            if encoding.len() >= 4 {
                assert!(
                    !contains(printed.as_bytes(), &encoding),
                    "{printed} shows {:?}",
                    String::from_utf8_lossy(secret)
                );
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Choosing a store, and real keyrings, each in a session of its own

/// With no D-Bus session at all (as on a headless box or in CI), Secret Service is refused with a
/// reason (not a panic, not a hang), and probing moves on: to keyutils if this session has a
/// kernel keyring, else to the file with a passphrase and to memory without one.
#[test]
fn without_a_bus_secret_service_is_passed_over() {
    const NAME: &str = "without_a_bus_secret_service_is_passed_over";
    if is_child(NAME) {
        let dir = temp_dir();
        let service = test_service();
        let error = keyring_vault(dir.path(), VaultBackendKind::SecretService, &service)
            .expect_err("no bus, no Secret Service");
        assert!(
            matches!(&error, VaultError::BackendUnavailable { backend: VaultBackendKind::SecretService, reason } if !reason.is_empty()),
            "{error:?}"
        );
        assert!(error.to_string().starts_with("The desktop keyring (Secret Service) can't be used here: "));

        let auto = Vault::open(VaultConfig { service: Some(service.clone()), ..VaultConfig::new(dir.path()) })
            .expect("falls back");
        let skipped: Vec<_> = auto.skipped().iter().map(|s| s.kind).collect();
        assert_eq!(skipped.first(), Some(&VaultBackendKind::SecretService));
        match auto.backend() {
            VaultBackend::KernelKeyutils => assert_eq!(skipped.len(), 1),
            VaultBackend::Memory => assert_eq!(skipped.len(), 2, "both keyrings tried"),
            other => panic!("without a passphrase: {other:?}"),
        }
        let _ = writeln!(std::io::stderr(), "no bus, no passphrase: {auto:?}");

        let with_passphrase = Vault::open(VaultConfig {
            passphrase: passphrase(PASSPHRASE),
            service: Some(service),
            ..VaultConfig::new(dir.path())
        })
        .expect("falls back");
        // A given passphrase means the encrypted file, even where the kernel keyring works: that
        // one forgets everything at reboot.
        let expected = VaultBackend::EncryptedFile { path: dir.path().join(VAULT_FILE_NAME) };
        assert_eq!(with_passphrase.backend(), expected, "the file wins with a passphrase");
        assert!(with_passphrase.backend().warning().is_none(), "the file lasts");
        if auto.backend() == VaultBackend::KernelKeyutils {
            let passed = with_passphrase
                .skipped()
                .iter()
                .find(|s| s.kind == VaultBackendKind::KernelKeyutils)
                .expect("keyutils is reported as passed over");
            assert!(passed.reason.contains("passphrase"), "{}", passed.reason);
            assert!(auto.backend().warning().is_some_and(|w| w.contains("restarts")));
        }
        exercise(&with_passphrase);
        drop(with_passphrase);

        if auto.backend() == VaultBackend::Memory {
            // The next start without the passphrase says why the saved secrets are missing.
            let again = Vault::open(VaultConfig::new(dir.path())).expect("memory again");
            assert_eq!(again.backend(), VaultBackend::Memory);
            let file = again
                .skipped()
                .iter()
                .find(|s| s.kind == VaultBackendKind::EncryptedFile)
                .expect("the file is reported");
            assert!(file.reason.ends_with("exists but no passphrase was given"));
        }
        return;
    }
    if !cfg!(target_os = "linux") {
        return skip(NAME, "Secret Service is a Linux store");
    }
    let runtime = temp_dir();
    let mut command = child_command(NAME, None);
    without_desktop_session(&mut command, runtime.path());
    run_child(NAME, command);
}

#[test]
fn kernel_keyutils_in_a_session_keyring() {
    const NAME: &str = "kernel_keyutils_in_a_session_keyring";
    if is_child(NAME) {
        let dir = temp_dir();
        let service = test_service();
        let vault = keyring_vault(dir.path(), VaultBackendKind::KernelKeyutils, &service)
            .expect("keyutils works in a session keyring");
        assert_eq!(vault.backend(), VaultBackend::KernelKeyutils);
        assert_eq!(vault.backend().persistence(), VaultPersistence::UntilReboot);
        assert_eq!(
            vault.backend().describe(),
            "Secrets are kept in the Linux kernel keyring (keyutils): they are lost when the \
             computer restarts, and you will need to pair again then."
        );
        exercise(&vault);

        // Really in the kernel: another vault sees it, and so does `keyctl`.
        vault.put(SecretKind::Passcode, "os::keyutils-agent", &secret(b"k-1234")).expect("put");
        let again = keyring_vault(dir.path(), VaultBackendKind::KernelKeyutils, &service).expect("reopen");
        assert_eq!(again.list(SecretKind::Passcode).expect("list"), vec!["os::keyutils-agent".to_owned()]);
        let description = format!("keyring-rs:passcode/os::keyutils-agent@{service}");
        let key = tool_output("keyctl", &["search", "@s", "user", &description]);
        assert_eq!(tool_output("keyctl", &["pipe", key.trim()]), "k-1234");

        // Forgetting everything leaves nothing behind, index entries included.
        again.delete(SecretKind::Passcode, "os::keyutils-agent").expect("delete");
        for user in ["passcode/os::keyutils-agent", "index/passcode", "index/controller-key"] {
            let description = format!("keyring-rs:{user}@{service}");
            assert!(
                !tool_succeeds("keyctl", &["search", "@s", "user", &description]),
                "{description} left in the kernel keyring"
            );
        }

        // And with no D-Bus session, probing picks it.
        let auto = Vault::open(VaultConfig { service: Some(service), ..VaultConfig::new(dir.path()) }).expect("probe");
        assert_eq!(auto.backend(), VaultBackend::KernelKeyutils, "{auto:?}");
        return;
    }
    if !on_path("keyctl") {
        return skip(NAME, "`keyctl` is not installed (Debian package keyutils)");
    }
    let runtime = temp_dir();
    let mut command = child_command(NAME, Some(&["keyctl", "session", "-"]));
    without_desktop_session(&mut command, runtime.path());
    run_child(NAME, command);
}

#[test]
fn secret_service_in_a_private_session() {
    const NAME: &str = "secret_service_in_a_private_session";
    if is_child(NAME) {
        let dir = temp_dir();
        let service = test_service();
        let vault = keyring_vault(dir.path(), VaultBackendKind::SecretService, &service)
            .expect("Secret Service works in the test session");
        assert_eq!(vault.backend(), VaultBackend::SecretService);
        assert_eq!(vault.backend().persistence(), VaultPersistence::UntilDeleted);
        assert_eq!(vault.backend().describe(), "Secrets are kept in the desktop keyring (Secret Service).");
        exercise(&vault);

        // Really in GNOME Keyring: libsecret's own tool finds it under the service name.
        vault.put(SecretKind::WifiPassphrase, "home-5g", &secret(WIFI)).expect("put");
        let lookup = ["lookup", "service", &service, "username", "wifi-passphrase/home-5g"];
        assert_eq!(tool_output("secret-tool", &lookup).as_bytes(), WIFI);
        let again = keyring_vault(dir.path(), VaultBackendKind::SecretService, &service).expect("reopen");
        assert_eq!(again.list(SecretKind::WifiPassphrase).expect("list"), vec!["home-5g".to_owned()]);
        again.delete(SecretKind::WifiPassphrase, "home-5g").expect("delete");
        let left = tool_output("secret-tool", &["search", "--all", "service", &service]);
        assert_eq!(left, "", "entries left in the keyring");

        let auto = Vault::open(VaultConfig { service: Some(service), ..VaultConfig::new(dir.path()) }).expect("probe");
        assert_eq!(auto.backend(), VaultBackend::SecretService, "{auto:?}");
        assert!(auto.skipped().is_empty());
        return;
    }
    let tools = ["dbus-run-session", "dbus-send", "gnome-keyring-daemon", "secret-tool"];
    let missing: Vec<&str> = tools.into_iter().filter(|tool| !on_path(tool)).collect();
    if !missing.is_empty() {
        let reason =
            format!("{} not installed (Debian packages dbus gnome-keyring libsecret-tools)", missing.join(", "));
        return skip(NAME, &reason);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../scripts/vault-test.sh");
    let script = script.to_string_lossy().into_owned();
    let command = child_command(NAME, Some(&["bash", &script, "secret-service"]));
    run_child(NAME, command);
}

// ----------------------------------------------------------------------------------------------
// Child processes

fn is_child(name: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|v| v == name)
}

fn skip(name: &str, reason: &str) {
    // Straight to stderr: libtest captures print!/eprint! of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {reason}");
}

/// `wrapper... <this test binary> <name> --exact`, marked as the child for `name`.
fn child_command(name: &str, wrapper: Option<&[&str]>) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = match wrapper {
        Some([program, args @ ..]) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        _ => Command::new(&exe),
    };
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]).env(CHILD, name).stdin(Stdio::null());
    command
}

/// Runs the child with a deadline and requires that it ran exactly that test, and passed.
fn run_child(name: &str, mut command: Command) {
    let logs = temp_dir();
    let out_path = logs.path().join("stdout");
    let err_path = logs.path().join("stderr");
    command
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let started = Instant::now();
    let mut child = command.spawn().expect("child starts");
    let deadline = Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let report =
        format!("child {name} after {:?}: {status:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", started.elapsed());
    assert!(status.is_some_and(|s| s.success()), "{report}");
    assert!(
        stdout.contains(&format!("test {name} ... ok")) && stdout.contains("1 passed"),
        "the child did not run the test: {report}"
    );
    let _ = writeln!(std::io::stderr(), "{name}: child passed in {:?}", started.elapsed());
}

/// No session bus to find: no address, no display to autolaunch one for, an empty runtime dir.
fn without_desktop_session(command: &mut Command, runtime_dir: &Path) {
    command
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", runtime_dir);
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn tool_succeeds(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tool_output(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).stdin(Stdio::null()).output().expect("tool runs");
    assert!(output.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 output")
}

// ----------------------------------------------------------------------------------------------
// The controller's identity when the vault forgets, and what Settings says about the vault

/// A lost controller key (a vault that forgets, an Endpoint ID file that stays) means a new
/// identity: a new Endpoint ID with a new key, never a new key under the old ID, which agents
/// that knew our certificate would refuse.
#[test]
fn a_lost_controller_key_means_a_new_identity() {
    let dir = temp_dir();
    let vault = forced(dir.path(), VaultBackendKind::Memory, None).expect("memory");
    let first = app_core::identity::load_or_create(&vault, dir.path()).expect("first identity");
    assert!(first.newly_created() && !first.renewed());
    let again = app_core::identity::load_or_create(&vault, dir.path()).expect("same identity");
    assert_eq!((again.eid(), again.fingerprint(), again.renewed()), (first.eid(), first.fingerprint(), false));

    // The next start: the memory vault forgot the key, the Endpoint ID file is still there.
    let forgetful = forced(dir.path(), VaultBackendKind::Memory, None).expect("memory");
    let renewed = app_core::identity::load_or_create(&forgetful, dir.path()).expect("renewed identity");
    assert!(renewed.renewed(), "the user is told to pair again");
    assert_ne!(renewed.eid(), first.eid(), "a new Endpoint ID, not a new key under the old one");
    assert_ne!(renewed.fingerprint(), first.fingerprint());
    let in_cert = usp_client::tls::endpoint_id_of(renewed.tls().cert_der()).expect("the certificate names it");
    assert_eq!(&in_cert, renewed.eid());
    let on_disk = std::fs::read_to_string(dir.path().join("endpoint-id")).expect("endpoint-id");
    assert_eq!(on_disk.trim(), renewed.eid().as_str());
    // And from then on it stays.
    let kept = app_core::identity::load_or_create(&forgetful, dir.path()).expect("kept");
    assert_eq!((kept.eid(), kept.renewed()), (renewed.eid(), false));
}

/// Settings says where secrets are kept and warns when they won't survive a restart; after a
/// lost key it says to pair again.
#[tokio::test]
async fn settings_show_where_secrets_are_kept() {
    use app_core::home::{Home, HomeConfig};
    use std::sync::Arc;
    let start = |dir: PathBuf, vault: Vault| async move {
        let config = HomeConfig {
            data_dir: dir,
            interfaces: Some(usp_client::discovery::Interfaces::Named(Vec::new())),
            manual_agents: Vec::new(),
            connectors: Vec::new(),
        };
        Home::start(config, Arc::new(vault)).await.expect("home starts")
    };
    let dir = temp_dir();
    let home = start(dir.path().to_owned(), forced(dir.path(), VaultBackendKind::Memory, None).expect("memory")).await;
    let s = home.settings().await.expect("settings");
    assert!(s.vault_location.contains("only in memory"), "{}", s.vault_location);
    assert!(!s.vault_persistent);
    assert!(s
        .vault_warning
        .as_deref()
        .is_some_and(|w| w.contains("when the app closes") && w.contains("USP_HOME_VAULT_PASSPHRASE")));
    assert!(!s.identity_renewed, "a first start is no renewal");
    home.shutdown().await;

    // Restarted: the memory vault forgot the key.
    let home = start(dir.path().to_owned(), forced(dir.path(), VaultBackendKind::Memory, None).expect("memory")).await;
    assert!(home.settings().await.expect("settings").identity_renewed);
    home.shutdown().await;

    // With the encrypted file: lasting, no warning.
    let dir = temp_dir();
    let file = forced(dir.path(), VaultBackendKind::EncryptedFile, Some(PASSPHRASE)).expect("file");
    let home = start(dir.path().to_owned(), file).await;
    let s = home.settings().await.expect("settings");
    assert!(s.vault_location.contains("encrypted file"), "{}", s.vault_location);
    assert!(s.vault_persistent && s.vault_warning.is_none() && !s.identity_renewed);
    home.shutdown().await;
}
