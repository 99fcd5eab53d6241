//! Tables for people: the columns each command chooses, read from the API's JSON, aligned.
//!
//! A value that is absent or `null` shows as `-`; lists are joined with `,`; control
//! characters become `?`, so that no field of an answer (a user agent in the audit log, say)
//! can move the cursor or forge a line of the table.

use serde_json::Value;

/// One column: its header and how its cell is read from an item.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    /// The header, in capitals.
    pub(crate) header: &'static str,
    /// The cell.
    pub(crate) cell: Cell,
}

/// How a cell is read from an item.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell {
    /// The value at the first of these JSON pointers that is present (the first is the field
    /// the API documents; the others, names it may use instead).
    At(&'static [&'static str]),
    /// Made from the whole item.
    With(fn(&Value) -> String),
}

impl Column {
    /// The column of the value at `pointer`.
    pub(crate) const fn at(header: &'static str, pointers: &'static [&'static str]) -> Self {
        Column {
            header,
            cell: Cell::At(pointers),
        }
    }

    /// The column made by `cell` from the item.
    pub(crate) const fn with(header: &'static str, cell: fn(&Value) -> String) -> Self {
        Column {
            header,
            cell: Cell::With(cell),
        }
    }

    fn text(&self, item: &Value) -> String {
        let text = match self.cell {
            Cell::At(pointers) => field(item, pointers),
            Cell::With(cell) => cell(item),
        };
        printable(&text)
    }
}

/// The value at the first of `pointers` present in `item`, as a cell's text.
pub(crate) fn field(item: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .find_map(|pointer| item.pointer(pointer).filter(|v| !v.is_null()))
        .map_or_else(|| "-".to_owned(), plain)
}

/// A JSON value as a cell's text: strings without quotes, lists joined with `,`.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `text` with control characters replaced by `?`.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `items` under a header line, columns two spaces apart, no trailing spaces.
pub(crate) fn table(columns: &[Column], items: &[Value]) -> String {
    let header: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    let mut rows = vec![header];
    rows.extend(
        items
            .iter()
            .map(|item| columns.iter().map(|c| c.text(item)).collect()),
    );
    let widths: Vec<usize> = (0..columns.len())
        .map(|index| {
            rows.iter()
                .map(|row| row[index].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[index].saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One item as `HEADER  value` lines, the values aligned.
pub(crate) fn record(columns: &[Column], item: &Value) -> String {
    let width = columns.iter().map(|c| c.header.len()).max().unwrap_or(0);
    let mut out = String::new();
    for column in columns {
        let line = format!("{:width$}  {}", column.header, column.text(item));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Every top-level field of an object as `NAME  value` lines, sorted by name; any other value
/// on one line.
pub(crate) fn fields(answer: &Value) -> String {
    let Value::Object(map) = answer else {
        return format!("{}\n", printable(&plain(answer)));
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in map {
        let line = format!(
            "{:width$}  {}",
            name.to_uppercase(),
            printable(&plain(value))
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COLUMNS: &[Column] = &[
        Column::at("ID", &["/id"]),
        Column::at("USED", &["/usage/requests", "/requests"]),
        Column::with("LIMITS", |item| {
            format!("{}/{}", field(item, &["/rps"]), field(item, &["/rpm"]))
        }),
        Column::at("TAGS", &["/tags"]),
    ];

    #[test]
    fn columns_align_and_absent_values_show_as_a_dash() {
        let items = [
            json!({"id": "key_a", "usage": {"requests": 12}, "rps": 5, "rpm": null, "tags": ["x", "y"]}),
            json!({"id": "key_long_id", "requests": 3, "tags": []}),
        ];
        assert_eq!(
            table(COLUMNS, &items),
            "ID           USED  LIMITS  TAGS\n\
             key_a        12    5/-     x,y\n\
             key_long_id  3     -/-     -\n"
        );
        assert_eq!(table(COLUMNS, &[]), "ID  USED  LIMITS  TAGS\n");
    }

    #[test]
    fn a_record_is_one_field_a_line_and_control_characters_are_replaced() {
        let item = json!({"id": "key_a\u{1b}[2J\nforged", "rps": 1, "rpm": 2});
        assert_eq!(
            record(COLUMNS, &item),
            "ID      key_a?[2J?forged\nUSED    -\nLIMITS  1/2\nTAGS    -\n"
        );
    }
}
