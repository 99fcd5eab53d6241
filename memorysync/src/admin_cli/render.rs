//! How an answer is printed: the views the commands choose, and `--json`.

use serde_json::Value;

use super::table::{Column, field, fields, record, table};

/// How a command shows its answer without `--json`.
#[derive(Debug)]
pub(crate) enum View {
    /// One object, a field a line.
    Record(&'static [Column]),
    /// A list's `items` as a table.
    Table(&'static [Column]),
    /// A list's `items` as a table, under a line made from the whole answer (a count, say).
    TableUnder(fn(&Value) -> String, &'static [Column]),
    /// A secret shown once: the value at one of these pointers alone on the first line (so
    /// that `head -n 1` takes it), a blank line, then the rest of the answer.
    Secret(&'static [&'static str], fn(&Value) -> String),
    /// Text made from the answer; the command fails (exit 1) when `failed` says so.
    Report(fn(&Value) -> String, fn(&Value) -> bool),
    /// An answer of a shape of its own: each top-level field on a line; when the answer is
    /// empty (`204`), this sentence.
    Fields(String),
    /// An action that may answer nothing (`204`): then this sentence, else the answer as a
    /// record.
    Done(String, &'static [Column]),
}

/// What is printed, and whether the command failed all the same.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Shown {
    /// Standard output.
    pub(crate) text: String,
    /// Standard error, when the answer is not what the command expected.
    pub(crate) error: Option<String>,
    /// Whether the exit code is 1.
    pub(crate) failed: bool,
}

/// `answer` shown through `view`, or as indented JSON with `json`.
pub(crate) fn show(view: &View, answer: &Value, json: bool) -> Shown {
    let failed = match view {
        View::Report(_, failed) => failed(answer),
        _ => false,
    };
    let mut shown = Shown {
        text: String::new(),
        error: None,
        failed,
    };
    if json {
        if !answer.is_null() {
            // A `Value` always serializes.
            shown.text = serde_json::to_string_pretty(answer).unwrap_or_default() + "\n";
        }
        return shown;
    }
    let items = || match answer.get("items") {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    shown.text = match view {
        View::Record(columns) => record(columns, answer),
        View::Table(columns) => table(columns, items()),
        View::TableUnder(head, columns) => format!("{}\n{}", head(answer), table(columns, items())),
        View::Secret(pointers, rest) => match field(answer, pointers).as_str() {
            "-" => {
                shown.error = Some("error: the answer holds no secret to show".to_owned());
                shown.failed = true;
                rest(answer)
            }
            secret => format!("{secret}\n\n{}", rest(answer)),
        },
        View::Report(text, _) => text(answer),
        View::Fields(sentence) | View::Done(sentence, _) if answer.is_null() => {
            format!("{sentence}\n")
        }
        View::Fields(_) => fields(answer),
        View::Done(_, columns) => record(columns, answer),
    };
    shown
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COLUMNS: &[Column] = &[Column::at("ID", &["/id"])];

    #[test]
    fn json_is_the_answer_as_given_and_views_print_tables_and_secrets() {
        let page = json!({"items": [{"id": "a"}, {"id": "b"}], "next_cursor": null, "count": 2});
        let shown = show(&View::Table(COLUMNS), &page, true);
        let back: Value = serde_json::from_str(&shown.text).unwrap();
        assert_eq!(back, page);
        assert_eq!(show(&View::Table(COLUMNS), &page, false).text, "ID\na\nb\n");
        let counted = View::TableUnder(|a| format!("{} in all", a["count"]), COLUMNS);
        assert_eq!(show(&counted, &page, false).text, "2 in all\nID\na\nb\n");

        let created = json!({"key": "msk_test_x", "record": {"id": "k"}});
        let view = View::Secret(&["/key"], |a| record(COLUMNS, &a["record"]));
        assert_eq!(show(&view, &created, false).text, "msk_test_x\n\nID  k\n");
        let without = show(&view, &json!({"record": {"id": "k"}}), false);
        assert!(without.failed && without.error.is_some());

        let done = View::Done("deleted".into(), COLUMNS);
        assert_eq!(show(&done, &Value::Null, false).text, "deleted\n");
        assert_eq!(show(&done, &Value::Null, true).text, "");
        assert_eq!(show(&done, &json!({"id": "e"}), false).text, "ID  e\n");
        let fields = View::Fields("queued".into());
        assert_eq!(show(&fields, &Value::Null, false).text, "queued\n");
        assert_eq!(
            show(&fields, &json!({"replayed": 3, "ids": ["a", "b"]}), false).text,
            "IDS       a,b\nREPLAYED  3\n"
        );
    }

    #[test]
    fn a_report_fails_the_command_in_both_forms() {
        let view = View::Report(|a| format!("ok: {}\n", a["ok"]), |a| a["ok"] != true);
        for json in [false, true] {
            assert!(show(&view, &json!({"ok": false}), json).failed);
            assert!(!show(&view, &json!({"ok": true}), json).failed);
        }
    }
}
