//! The side-by-side report of `lwip-drill --compare`: a row per script, a
//! column per target, each cell `ok`, `FAIL` or `skip`, and for every row
//! where the targets disagree, each failing target's first difference as
//! lwip-drill printed it (the `FAIL` line with the expected and actual
//! packet or call result). Markdown for people, JSON for tools.

use std::fmt::Write as _;

use serde_json::{json, Value};

/// How one script ended on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Ok,
    /// Failed (an error in the script counts too): the report, from the
    /// verdict line on.
    Fail(String),
    /// Skipped: the reason as printed.
    Skip(String),
}

impl Cell {
    pub fn word(&self) -> &'static str {
        match self {
            Cell::Ok => "ok",
            Cell::Fail(_) => "FAIL",
            Cell::Skip(_) => "skip",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Cell::Ok => None,
            Cell::Fail(text) | Cell::Skip(text) => Some(text),
        }
    }
}

/// One script's cells, in the targets' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub script: String,
    pub cells: Vec<Cell>,
}

impl Row {
    /// Whether every target ended the script the same way: all passed,
    /// or all failed with the same first difference, or all skipped for
    /// the same reason.
    pub fn agrees(&self) -> bool {
        self.cells.windows(2).all(|w| w[0] == w[1])
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub targets: Vec<String>,
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn agrees(&self) -> bool {
        self.rows.iter().all(Row::agrees)
    }

    /// How many scripts each target passed, failed and skipped.
    pub fn counts(&self) -> Vec<(usize, usize, usize)> {
        (0..self.targets.len())
            .map(|t| {
                let count = |word| {
                    self.rows
                        .iter()
                        .filter(|r| r.cells[t].word() == word)
                        .count()
                };
                (count("ok"), count("FAIL"), count("skip"))
            })
            .collect()
    }

    /// The table, then a section per disagreeing row.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "| script | {} |", self.targets.join(" | "));
        let _ = writeln!(out, "| --- |{}", " :---: |".repeat(self.targets.len()));
        for row in &self.rows {
            let cells: Vec<String> = row
                .cells
                .iter()
                .map(|c| {
                    if row.agrees() {
                        c.word().to_string()
                    } else {
                        format!("**{}**", c.word())
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} | {} |", row.script, cells.join(" | "));
        }
        let totals: Vec<String> = self
            .counts()
            .iter()
            .map(|(ok, fail, skip)| format!("{ok} ok, {fail} FAIL, {skip} skip"))
            .collect();
        let _ = writeln!(out, "| *total* | {} |", totals.join(" | "));
        let disagreeing: Vec<&Row> = self.rows.iter().filter(|r| !r.agrees()).collect();
        let _ = writeln!(out);
        if disagreeing.is_empty() {
            let _ = writeln!(out, "The targets agree on all {} scripts.", self.rows.len());
            return out;
        }
        let _ = writeln!(
            out,
            "The targets disagree on {} of {} scripts.",
            disagreeing.len(),
            self.rows.len()
        );
        for row in disagreeing {
            let _ = writeln!(out, "\n### {}\n", row.script);
            for (target, cell) in self.targets.iter().zip(&row.cells) {
                match cell.detail() {
                    None => {
                        let _ = writeln!(out, "- {target}: ok");
                    }
                    Some(detail) => {
                        let _ = writeln!(out, "- {target}: {}\n\n```", cell.word());
                        let _ = writeln!(out, "{}", detail.trim_end());
                        let _ = writeln!(out, "```\n");
                    }
                }
            }
        }
        out
    }

    pub fn json(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let results: serde_json::Map<String, Value> = self
                    .targets
                    .iter()
                    .zip(&row.cells)
                    .map(|(target, cell)| {
                        let mut result = json!({ "result": cell.word() });
                        if let Some(detail) = cell.detail() {
                            result["detail"] = Value::from(detail.trim_end());
                        }
                        (target.clone(), result)
                    })
                    .collect();
                json!({ "script": row.script, "agree": row.agrees(), "results": results })
            })
            .collect();
        let value = json!({
            "targets": self.targets,
            "agree": self.agrees(),
            "scripts": rows,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison() -> Comparison {
        Comparison {
            targets: vec!["lwip".into(), "linux".into()],
            rows: vec![
                Row {
                    script: "a.pkt".into(),
                    cells: vec![Cell::Ok, Cell::Ok],
                },
                Row {
                    script: "b.pkt".into(),
                    cells: vec![
                        Cell::Ok,
                        Cell::Fail("FAIL b.pkt:3: bad\n  expected: x\n  actual:   y".into()),
                    ],
                },
            ],
        }
    }

    #[test]
    fn a_disagreement_shows_the_failing_targets_first_difference() {
        let c = comparison();
        assert!(!c.agrees());
        let text = c.markdown();
        assert!(text.contains("| a.pkt | ok | ok |"), "{text}");
        assert!(text.contains("| b.pkt | **ok** | **FAIL** |"), "{text}");
        assert!(
            text.contains("| *total* | 2 ok, 0 FAIL, 0 skip | 1 ok, 1 FAIL, 0 skip |"),
            "{text}"
        );
        assert!(text.contains("### b.pkt"), "{text}");
        assert!(
            text.contains(
                "- linux: FAIL\n\n```\nFAIL b.pkt:3: bad\n  expected: x\n  actual:   y\n```"
            ),
            "{text}"
        );
        assert!(!text.contains("### a.pkt"), "{text}");
    }

    #[test]
    fn json_carries_every_cell() {
        let value: Value = serde_json::from_str(&comparison().json()).unwrap();
        assert_eq!(value["agree"], false);
        assert_eq!(value["targets"][1], "linux");
        assert_eq!(value["scripts"][0]["agree"], true);
        assert_eq!(value["scripts"][1]["results"]["linux"]["result"], "FAIL");
        assert!(value["scripts"][1]["results"]["linux"]["detail"]
            .as_str()
            .unwrap()
            .contains("expected: x"));
        assert!(value["scripts"][1]["results"]["lwip"]
            .get("detail")
            .is_none());
    }

    #[test]
    fn failing_differently_is_a_disagreement() {
        let fail = |line| Cell::Fail(format!("FAIL b.pkt:{line}: bad"));
        let row = |a, b| Row {
            script: "b.pkt".into(),
            cells: vec![a, b],
        };
        assert!(row(fail(3), fail(3)).agrees());
        assert!(!row(fail(3), fail(4)).agrees());
    }

    #[test]
    fn agreeing_targets_say_so() {
        let mut c = comparison();
        c.rows.truncate(1);
        assert!(c.agrees());
        assert!(c.markdown().contains("The targets agree on all 1 scripts."));
    }
}
