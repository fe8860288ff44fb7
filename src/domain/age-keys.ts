// age keys: what an X25519 recipient (public key) and an identity (private key) look like.
import { Encrypter } from 'age-encryption';

/** What `encryption.recipients` accepts, for error messages. */
export const AGE_RECIPIENT_RULE =
  'an age X25519 public key: "age1" followed by 58 lowercase bech32 characters (what `age-keygen -y KEYFILE` prints)';

/** An X25519 recipient is bech32 of 32 bytes with the prefix `age`: 62 characters in all. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/**
 * Whether `text` is an age X25519 recipient whose checksum holds. Post-quantum (`age1pq1…`),
 * tag and plugin recipients are refused: Debian's `age` cannot decrypt them, and a person with
 * only the key and Debian's `age` must be able to recover.
 */
export function isAgeRecipient(text: string): boolean {
  if (!X25519_RECIPIENT.test(text)) return false;
  try {
    // The library decodes the bech32 and checks its checksum and length.
    new Encrypter().addRecipient(text);
    return true;
  } catch {
    return false;
  }
}

/** An age X25519 identity line (`AGE-SECRET-KEY-1…`, as `age-keygen` writes it). */
export const AGE_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/**
 * The identities in the text of an age identity file: one per line, `#` comments and blank
 * lines ignored (the format `age-keygen` writes and `age -i` reads). Lines that are neither are
 * reported by number, never by content: they may be key material.
 */
export function parseIdentityFile(text: string): { identities: string[]; badLines: number[] } {
  const identities: string[] = [];
  const badLines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (AGE_IDENTITY.test(line)) identities.push(line);
    else badLines.push(i + 1);
  });
  return { identities, badLines };
}
