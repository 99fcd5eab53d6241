//! The head checkpoint: the chain's last `seq` and hash, kept outside the lines (a file beside
//! the JSON Lines segments, a key beside the Redis stream) and moved after every batch, so that
//! lines cut off the end of the log are found: the log then ends before its checkpoint.
//!
//! What it protects against: accidents and a careless operator (a truncated or restored
//! segment, a trimmed stream, a crash that lost written lines). What it does not: someone who
//! can rewrite both the log and the checkpoint, who can cut the tail and move the checkpoint
//! back with it. Against that, ship the head elsewhere as it moves ([`AuditLog::head`](super::AuditLog::head),
//! written with [`ChainHead::to_checkpoint`]) to a place that writer cannot reach, and compare.

use std::io;

use super::{ChainHead, Resumed};
use crate::clock::Timestamp;

/// The word that opens a recovery's account of a log that ended before its checkpoint: lines
/// were cut off or lost. `memorysync audit verify` counts such a recovery as a loss.
pub const ENDS_BEFORE_CHECKPOINT: &str = "log_ends_before_checkpoint";

/// When a log whose last line is `head` does not reach `checkpoint` (it ends before it, or its
/// line there is another): what a recovery says about it.
pub(crate) fn short_of(head: ChainHead, checkpoint: ChainHead) -> Option<String> {
    let reaches = head.seq > checkpoint.seq || head == checkpoint;
    if reaches {
        return None;
    }
    tracing::error!(
        log_ends_at = head.seq,
        checkpoint = checkpoint.seq,
        "audit: the log ends before its head checkpoint: lines were cut off or lost"
    );
    Some(format!(
        "{ENDS_BEFORE_CHECKPOINT} checkpoint_seq={} checkpoint_sha256={} log_ends_at_seq={}",
        checkpoint.seq,
        checkpoint.hash_hex(),
        head.seq
    ))
}

/// Where a sink's chain resumes: after `last`, the last whole line it holds, with filing from
/// `filed_from`; or, holding no line, after its `checkpoint` (retention removed every line).
/// `found` is what the sink repaired on its way (a torn tail moved aside); to it are added an
/// unreadable checkpoint and a log that ends before its checkpoint. `lines_lost` says that
/// holding no line is itself a loss (a Redis stream whose key is gone), not retention.
pub(crate) fn resumed(
    last: Option<ChainHead>,
    filed_from: Timestamp,
    checkpoint: io::Result<Option<ChainHead>>,
    lines_lost: bool,
    mut found: Vec<String>,
) -> io::Result<Resumed> {
    let checkpoint = match checkpoint {
        Ok(checkpoint) => checkpoint,
        Err(error) if error.kind() == io::ErrorKind::InvalidData => {
            tracing::warn!(%error, "audit: the head checkpoint is unreadable; it is rewritten by the next batch");
            found.push("checkpoint_unreadable".to_owned());
            None
        }
        Err(error) => return Err(error),
    };
    let head = match (last, checkpoint) {
        (Some(head), Some(checkpoint)) => {
            found.extend(short_of(head, checkpoint));
            head
        }
        (Some(head), None) => head,
        (None, Some(checkpoint)) => {
            if lines_lost {
                found.extend(short_of(ChainHead::default(), checkpoint));
            }
            checkpoint
        }
        (None, None) => ChainHead::default(),
    };
    let resumed = Resumed::at(head).filed_from(filed_from);
    if found.is_empty() {
        return Ok(resumed);
    }
    found.push(format!("resumed_after_seq={}", head.seq));
    Ok(resumed.with_recovery(found.join(" ")))
}

impl ChainHead {
    /// The checkpoint's text: `{"seq":N,"sha256":"<64 hex digits>"}`.
    pub fn to_checkpoint(&self) -> String {
        format!(r#"{{"seq":{},"sha256":"{}"}}"#, self.seq, self.hash_hex())
    }

    /// The hash as 64 lowercase hex digits.
    pub fn hash_hex(&self) -> String {
        base16ct::lower::encode_string(&self.hash)
    }

    /// Reads a checkpoint's text back.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidData`] when the text is not a checkpoint.
    pub fn from_checkpoint(text: &str) -> io::Result<ChainHead> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Checkpoint {
            seq: u64,
            sha256: String,
        }
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let checkpoint: Checkpoint = serde_json::from_str(text.trim())
            .map_err(|e| invalid(&format!("not an audit checkpoint: {e}")))?;
        let digits = checkpoint.sha256.as_bytes();
        // `from_str_radix` alone would take a sign.
        if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(invalid(
                "not an audit checkpoint: sha256 is not 64 hex digits",
            ));
        }
        let mut hash = [0u8; 32];
        for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).unwrap_or("");
            *byte = u8::from_str_radix(pair, 16)
                .map_err(|_| invalid("not an audit checkpoint: sha256 is not 64 hex digits"))?;
        }
        Ok(ChainHead {
            seq: checkpoint.seq,
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_and_anything_else_is_invalid_data() {
        let head = ChainHead {
            seq: 42,
            hash: [0xab; 32],
        };
        let text = head.to_checkpoint();
        assert_eq!(
            text,
            format!(r#"{{"seq":42,"sha256":"{}"}}"#, "ab".repeat(32))
        );
        assert_eq!(
            ChainHead::from_checkpoint(&format!("{text}\n")).unwrap(),
            head
        );
        for bad in [
            "",
            "{}",
            r#"{"seq":1,"sha256":"ab"}"#,
            &text.replace("ab", "zz"),
        ] {
            let error = ChainHead::from_checkpoint(bad).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{bad}");
        }
    }
}
