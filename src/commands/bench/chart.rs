//! The chart: latency percentiles per step, and throughput against the
//! number of clients, side by side in one SVG.

use std::path::Path;

use plotters::prelude::*;

use super::stats::Summary;

/// Draws `steps` (latencies) and `sweep` (throughput per client count,
/// one line per step name) into `path`.
pub fn draw(path: &Path, steps: &[Summary], sweep: &[Summary]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(620);
    latencies(&left, steps)?;
    throughput(&right, sweep)?;
    root.present().map_err(err)?;
    Ok(())
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e}")
}

const COLOURS: [RGBColor; 3] = [
    RGBColor(66, 133, 180),
    RGBColor(230, 150, 40),
    RGBColor(200, 60, 60),
];

fn latencies<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    steps: &[Summary],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let top = steps.iter().map(|s| s.p99_ms).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Latency per step (ms): p50, p95, p99", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..steps.len() as f64, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("milliseconds")
        .draw()
        .map_err(err)?;
    // Step names above their bars (a category axis of floats has no ticks
    // of its own in the middle of each group).
    chart
        .draw_series(steps.iter().enumerate().map(|(i, s)| {
            Text::new(
                s.step.clone(),
                (i as f64 + 0.2, top * 0.97),
                ("sans-serif", 13).into_font(),
            )
        }))
        .map_err(err)?;
    for (k, (label, pick)) in [
        ("p50", (|s: &Summary| s.p50_ms) as fn(&Summary) -> f64),
        ("p95", |s: &Summary| s.p95_ms),
        ("p99", |s: &Summary| s.p99_ms),
    ]
    .into_iter()
    .enumerate()
    {
        let colour = COLOURS[k];
        chart
            .draw_series(steps.iter().enumerate().map(move |(i, s)| {
                let x0 = i as f64 + 0.15 + k as f64 * 0.23;
                Rectangle::new([(x0, 0.0), (x0 + 0.22, pick(s))], colour.filled())
            }))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn throughput<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    sweep: &[Summary],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let top = sweep.iter().map(|s| s.per_second).fold(1.0, f64::max) * 1.15;
    let most = sweep.iter().map(|s| s.clients).max().unwrap_or(128) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput (requests/s) vs clients", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..most * 1.05, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("requests per second")
        .draw()
        .map_err(err)?;
    let mut names: Vec<&str> = Vec::new();
    for s in sweep {
        if !names.contains(&s.step.as_str()) {
            names.push(&s.step);
        }
    }
    for (k, name) in names.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<(f64, f64)> = sweep
            .iter()
            .filter(|s| s.step == *name)
            .map(|s| (s.clients as f64, s.per_second))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 15, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(move |p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}
