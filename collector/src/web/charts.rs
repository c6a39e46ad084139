//! Charts as inline SVG made on the server: no script, no external file. Values are percentages
//! (0-100) or counts; a hidden (`< k`) value is `None` and leaves a *gap* — a line is broken there
//! and a bar is replaced by the text `< k` — never a point at zero.
//!
//! Every data point is a `<circle class="point">` (a bar a `<rect class="bar">`) with a `<title>`
//! giving its label and value, so screen readers, tooltips and tests can read them.

use maud::{html, Markup};

/// Width and height of a chart, in SVG units.
const W: f64 = 640.0;
const H: f64 = 220.0;
/// Margins: left (axis labels), top, bottom (week labels).
const LEFT: f64 = 58.0;
/// Right margin (room for the last week's label).
const RIGHT: f64 = 34.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// One point or bar: its label, its value (`None`: hidden by the k rule).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Week or group.
    pub label: String,
    /// The value, or `None` when suppressed.
    pub value: Option<f64>,
}

fn fmt_value(v: f64, percent: bool) -> String {
    if percent {
        format!("{v:.1} %")
    } else {
        format!("{v:.0}")
    }
}

/// An axis label: whole numbers.
fn axis_value(v: f64, percent: bool) -> String {
    if percent {
        format!("{v:.0} %")
    } else {
        format!("{v:.0}")
    }
}

/// The top of the y axis: 100 for percentages, else a round number at or above the largest value.
fn y_max(points: &[Point], percent: bool) -> f64 {
    if percent {
        return 100.0;
    }
    let max = points.iter().filter_map(|p| p.value).fold(0.0, f64::max);
    let mut top = 1.0;
    while top < max {
        // 1, 2, 5, 10, 20, 50, ...
        top *= if (top as u64).to_string().starts_with('2') { 2.5 } else { 2.0 };
    }
    top
}

/// A line chart: one series over the labels, broken where a value is hidden. `title` labels the
/// chart for assistive technology; `k` is the k in force (for the "hidden" note).
pub fn line(title: &str, points: &[Point], percent: bool, k: u32) -> Markup {
    let top = y_max(points, percent);
    let n = points.len().max(1) as f64;
    let x = |i: usize| LEFT + (W - LEFT - RIGHT) * if n > 1.0 { i as f64 / (n - 1.0) } else { 0.5 };
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v / top).clamp(0.0, 1.0));
    // Runs of consecutive shown points become one polyline each.
    let mut runs: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, p) in points.iter().enumerate() {
        match p.value {
            Some(v) => current.push_str(&format!("{:.1},{:.1} ", x(i), y(v))),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    let label_every = (points.len() / 8).max(1);
    html! {
        svg class="chart line" role="img" viewBox={"0 0 " (W) " " (H)} xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for tick in [0.0, 0.5, 1.0] {
                line class="grid" x1=(LEFT) x2=(W - RIGHT) y1=(y(top * tick)) y2=(y(top * tick)) {}
                text class="axis" x=(LEFT - 4.0) y=(y(top * tick) + 4.0) text-anchor="end" { (axis_value(top * tick, percent)) }
            }
            @for run in &runs { polyline class="series" points=(run.trim_end()) {} }
            @for (i, p) in points.iter().enumerate() {
                @if let Some(v) = p.value {
                    circle class="point" cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(v))) r="3.5" data-value=(v) {
                        title { (p.label) ": " (fmt_value(v, percent)) }
                    }
                } @else {
                    text class="gap" x=(format!("{:.1}", x(i))) y=(H - BOTTOM - 4.0) text-anchor="middle" { "< " (k) }
                }
                @if i % label_every == 0 {
                    text class="axis" x=(format!("{:.1}", x(i))) y=(H - BOTTOM + 16.0) text-anchor="middle" { (p.label) }
                }
            }
        }
    }
}

/// A horizontal bar chart, one bar per label; a hidden value shows `< k` instead of a bar.
pub fn bars(title: &str, points: &[Point], percent: bool, k: u32) -> Markup {
    let top = y_max(points, percent);
    let (row, label_w, bar_w) = (24.0, 150.0, W - 150.0 - 70.0);
    let height = row * points.len().max(1) as f64 + 8.0;
    html! {
        svg class="chart bars" role="img" viewBox={"0 0 " (W) " " (height)} xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, p) in points.iter().enumerate() {
                @let y0 = 4.0 + row * i as f64;
                text class="axis" x=(label_w - 6.0) y=(y0 + 15.0) text-anchor="end" { (p.label) }
                @if let Some(v) = p.value {
                    rect class="bar" x=(label_w) y=(y0 + 3.0) height=(row - 6.0)
                        width=(format!("{:.1}", (bar_w * v / top).max(1.0))) data-value=(v) {
                        title { (p.label) ": " (fmt_value(v, percent)) }
                    }
                    text class="value" x=(format!("{:.1}", label_w + (bar_w * v / top).max(1.0) + 4.0)) y=(y0 + 15.0) { (fmt_value(v, percent)) }
                } @else {
                    text class="gap" x=(label_w + 4.0) y=(y0 + 15.0) { "< " (k) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, value: Option<f64>) -> Point {
        Point { label: label.into(), value }
    }

    #[test]
    fn a_hidden_value_breaks_the_line_and_is_no_point() {
        let svg = line("t", &[p("W1", Some(10.0)), p("W2", None), p("W3", Some(20.0)), p("W4", Some(30.0))], true, 5)
            .into_string();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("class=\"point\"").count(), 3);
        assert!(svg.contains("&lt; 5"), "{svg}");
    }

    #[test]
    fn bars_show_hidden_values_as_text_and_escape_labels() {
        let svg = bars("t", &[p("<b>", Some(50.0)), p("limburg", None)], true, 5).into_string();
        assert_eq!(svg.matches("class=\"bar\"").count(), 1);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt; 5"));
    }

    #[test]
    fn count_axes_are_round() {
        assert_eq!(y_max(&[p("a", Some(7.0))], false), 10.0);
        assert_eq!(y_max(&[p("a", Some(0.0))], false), 1.0);
        assert_eq!(y_max(&[p("a", Some(41.0))], false), 50.0);
        assert_eq!(y_max(&[p("a", Some(30.0))], true), 100.0);
    }
}
