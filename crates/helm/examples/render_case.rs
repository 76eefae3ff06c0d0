//! Renders one corpus case and prints one template, for debugging against expected output.
//! Usage: cargo run -p eddy-helm --example render_case -- CHART_DIR VALUES_FILE KEY

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: render_case CHART_DIR VALUES_FILE KEY");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[2]).unwrap_or_default();
    let values = match eddy_helm::read_values_text(&text, &args[2]) {
        Ok(values) => values,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    let options = eddy_helm::TemplateOptions {
        release_name: "demo".to_string(),
        namespace: "demo-ns".to_string(),
        ..eddy_helm::TemplateOptions::default()
    };
    match eddy_helm::render_with_values(std::path::Path::new(&args[1]), &values, &options) {
        Ok(rendered) => print!(
            "{}",
            rendered
                .templates
                .get(&args[3])
                .cloned()
                .unwrap_or_default()
        ),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
