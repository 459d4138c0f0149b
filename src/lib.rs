//! zoho-cadences-exporter: placeholder while the core lands.
