"""Static files of the web inbox (a package only so that the package-data globs ship them)."""
